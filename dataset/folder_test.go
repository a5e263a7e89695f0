package dataset

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rgb8 is an expected colour in 8-bit units.
type rgb8 [3]float64

func TestLoadFolder(t *testing.T) {
	const size = 8
	im, err := LoadFolder(filepath.Join("testdata", "folder"), size, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Images in name order, each with the colour expected at its top-left
	// and bottom-right pixels, and the tolerance in 8-bit units.
	tests := []struct {
		name        string
		topLeft     rgb8
		bottomRight rgb8
		tol         float64
	}{
		{"a-red.png", rgb8{220, 40, 40}, rgb8{220, 40, 40}, 1},
		{"b-crop.png (centre crop is all blue)", rgb8{30, 60, 200}, rgb8{30, 60, 200}, 1},
		{"c-green.jpg", rgb8{40, 160, 60}, rgb8{40, 160, 60}, 8},
		{"d-anim.gif (first frame)", rgb8{30, 60, 200}, rgb8{30, 60, 200}, 1},
		{"e-twotone.webp", rgb8{0, 0x20, 0}, rgb8{0, 0xc0, 0}, 1},
		{"f-gray.png", rgb8{100, 100, 100}, rgb8{100, 100, 100}, 1},
		{"g-clear.png (white)", rgb8{255, 255, 255}, rgb8{255, 255, 255}, 0},
		{"h-halfalpha.png (red on white)", rgb8{255, 127, 127}, rgb8{255, 127, 127}, 1.5},
		{"i-case.PNG", rgb8{0, 0, 0}, rgb8{0, 0, 0}, 0},
	}
	if im.N != len(tests) || im.C != 3 || im.H != size || im.W != size {
		t.Fatalf("shape %d×%d×%d×%d, want %d×3×%d×%d (notes.txt and sub/ skipped)",
			im.N, im.C, im.H, im.W, len(tests), size, size)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if im.Labels[i] != 7 {
				t.Errorf("label %d, want 7", im.Labels[i])
			}
			img := im.Image(i)
			checkPixel(t, img, size, 0, 0, tt.topLeft, tt.tol)
			checkPixel(t, img, size, size-1, size-1, tt.bottomRight, tt.tol)
			for k, v := range img {
				if v < -1 || v > 1 {
					t.Fatalf("value %d = %v, outside [-1, 1]", k, v)
				}
			}
		})
	}
}

// checkPixel checks pixel (x, y) of a 3×size×size image against want.
func checkPixel(t *testing.T, img []float32, size, x, y int, want rgb8, tol float64) {
	t.Helper()
	plane := size * size
	for c := range 3 {
		got := (float64(img[c*plane+y*size+x]) + 1) * 127.5
		if math.Abs(got-want[c]) > tol+1e-3 {
			t.Errorf("pixel (%d,%d) channel %d = %.1f, want %.0f ± %.1f", x, y, c, got, want[c], tol)
		}
	}
}

func TestLoadFolderErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name   string
		dir    string
		size   int
		errHas []string
	}{
		{"missing", filepath.Join("testdata", "no-such-folder"), 8, []string{"no-such-folder", "no such file"}},
		{"file", filepath.Join("testdata", "folder", "notes.txt"), 8, []string{"notes.txt: not a folder"}},
		{"empty", empty, 8, []string{empty, "no image files"}},
		{"no images", filepath.Join("testdata", "folder-noimages"), 8, []string{"folder-noimages: no image files"}},
		{"broken", filepath.Join("testdata", "folder-broken"), 8, []string{filepath.Join("folder-broken", "broken.jpg") + ": decode:"}},
		{"size", filepath.Join("testdata", "folder"), 0, []string{"size 0 is not positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im, err := LoadFolder(tt.dir, tt.size, 0)
			if err == nil {
				t.Fatalf("LoadFolder gave %d images, want an error", im.N)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadFolderUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read a folder without permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	_, err := LoadFolder(dir, 8, 0)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("LoadFolder error %v, want one naming %s", err, dir)
	}
}
