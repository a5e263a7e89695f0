package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ganshift/biggan"
)

// The BigGAN fixtures of package biggan: a width-8 128×128 G and D with 10
// classes in BigGAN-PyTorch's .pth format, and tiny broken ones.
func bigganFixture(dir, name string) string {
	return filepath.Join("..", "..", "biggan", "testdata", dir, name)
}

// runCmd runs the command line in this process.
func runCmd(args ...string) error {
	root := newRootCmd()
	root.SetArgs(append([]string{"-q"}, args...))
	return root.Execute()
}

func TestImport(t *testing.T) {
	out := filepath.Join(t.TempDir(), "model")
	g, d, gz := bigganFixture("parity", "G.pth"), bigganFixture("parity", "D.pth"), bigganFixture("parity", "G_zip.pth")
	if err := runCmd("import", "--g", g, "--d", d, "--g-ema", gz, "--out", out); err != nil {
		t.Fatal(err)
	}
	m, err := biggan.LoadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	c := m.Cfg
	if c.Resolution != 128 || c.GCh != 8 || c.DCh != 8 || c.DimZ != 60 || c.SharedDim != 32 || c.NClasses != 10 ||
		!slices.Equal(c.GAttn, []int{64}) || !slices.Equal(c.DAttn, []int{64}) {
		t.Errorf("imported config %+v", c)
	}
	if m.GEma == nil || m.D == nil {
		t.Errorf("G_ema present %v, D present %v", m.GEma != nil, m.D != nil)
	}
	for k, want := range map[string]string{"command": "import", "G": g, "D": d, "G_ema": gz} {
		if got := m.Provenance[k]; got != want {
			t.Errorf("provenance %s = %v, want %s", k, got, want)
		}
	}
	err = runCmd("import", "--g", g, "--d", d, "--out", out)
	if err == nil || !strings.Contains(err.Error(), "already holds a model") {
		t.Errorf("second import into %s: %v, want an error", out, err)
	}
}

func TestImportErrors(t *testing.T) {
	g, d := bigganFixture("parity", "G.pth"), bigganFixture("parity", "D.pth")
	bad, cut, tinyD := bigganFixture("pth", "tiny_G_bad_shape.pth"), bigganFixture("pth", "tiny_G_truncated.pth"), bigganFixture("pth", "tiny_D.pth")
	tests := []struct {
		name   string
		args   []string
		addOut bool // append --out DIR
		want   []string
	}{
		{"no flags", nil, false, []string{"need --g, --d, --out"}},
		{"no D", []string{"--g", g}, false, []string{"need --d, --out"}},
		{"wrong shape", []string{"--g", bad, "--d", d}, true, []string{bad, `"blocks.1.0.conv2.weight" has shape [8 8 1 3]`}},
		{"truncated", []string{"--g", cut, "--d", d}, true, []string{cut, "truncated"}},
		{"G and D swapped", []string{"--g", d, "--d", g}, true, []string{d, "looks like a discriminator"}},
		{"classes differ", []string{"--g", g, "--d", tinyD}, true, []string{"G has 10 classes but D has 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "model")
			args := append([]string{"import"}, tt.args...)
			if tt.addOut {
				args = append(args, "--out", out)
			}
			err := runCmd(args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(out, "model.json")); err == nil {
				t.Errorf("a failed import wrote %s", out)
			}
		})
	}
}

func TestSampleWeightFiles(t *testing.T) {
	g, d := bigganFixture("parity", "G.pth"), bigganFixture("parity", "D.pth")
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"--g", []string{"--g", g}, ""},
		{"--g and --d", []string{"--g", g, "--d", d}, ""},
		{"--model spec", []string{"--model", "G=" + g + ",D=" + d}, ""},
		{"--model file", []string{"--model", g}, ""},
		{"--d alone", []string{"--d", d}, "no generator file"},
		{"mismatched D", []string{"--g", g, "--d", bigganFixture("pth", "tiny_D.pth")}, "G has 10 classes but D has 3"},
		{"comma in name", []string{"--g", "a,b.pth"}, "may not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			err := runCmd(append([]string{"sample", "--classes", "3,8", "--n", "2", "--out", out}, tt.args...)...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(out, "grid.png"))
			if err != nil || fi.Size() < 1000 {
				t.Errorf("grid.png: %v (size %d)", err, sizeOf(fi))
			}
		})
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

func TestWeightFiles(t *testing.T) {
	tests := []struct {
		src  string
		want biggan.Files
		ok   bool
	}{
		{"G=a.pth,D=b.pth", biggan.Files{G: "a.pth", D: "b.pth"}, true},
		{"D=b,G_ema=c.safetensors,G=a", biggan.Files{G: "a", D: "b", GEma: "c.safetensors"}, true},
		{"weights/G_ema.pth", biggan.Files{G: "weights/G_ema.pth"}, true},
		{"x.SafeTensors", biggan.Files{G: "x.SafeTensors"}, true},
		{"models/biggan128", biggan.Files{}, false},
		{"default", biggan.Files{}, false},
		{"g=a.pth", biggan.Files{}, false},
		{"G=a.pth,E=b.pth", biggan.Files{}, false},
	}
	for _, tt := range tests {
		got, ok := weightFiles(tt.src)
		if ok != tt.ok || got != tt.want {
			t.Errorf("weightFiles(%q) = %+v, %v; want %+v, %v", tt.src, got, ok, tt.want, tt.ok)
		}
	}
	spec, err := weightSpec(biggan.Files{G: "a.pth", D: "d.pth", GEma: "e.pth"})
	if err != nil || spec != "G=a.pth,G_ema=e.pth,D=d.pth" {
		t.Errorf("weightSpec = %q, %v", spec, err)
	}
	if back, _ := weightFiles(spec); back != (biggan.Files{G: "a.pth", D: "d.pth", GEma: "e.pth"}) {
		t.Errorf("weightFiles(weightSpec(…)) = %+v", back)
	}
}

// TestLoadModelNeedsD: commands that use D (finetune) refuse weight files
// without one.
func TestLoadModelNeedsD(t *testing.T) {
	_, _, err := loadModel("G=" + bigganFixture("parity", "G.pth"))
	if err == nil || !strings.Contains(err.Error(), "add D=FILE") {
		t.Fatalf("loadModel without D: %v", err)
	}
	m, name, err := loadModel("G=" + bigganFixture("parity", "G.pth") + ",D=" + bigganFixture("parity", "D.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if m.D == nil || name != bigganFixture("parity", "G.pth") {
		t.Errorf("D present %v, name %q", m.D != nil, name)
	}
}
