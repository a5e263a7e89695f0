package classifier

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"ganshift/dataset"
	"ganshift/progress"
	"ganshift/torch"
)

func TestMain(m *testing.M) {
	torch.SetThreads(runtime.NumCPU())
	progress.Quiet = true
	os.Exit(m.Run())
}

func TestSaveLoad(t *testing.T) {
	n, err := New(Config{Arch: "smallcnn", Size: 32, Classes: 2, Mode: Joint, Target: 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Free()
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := n.Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if m.Cfg.Mode != Joint || m.Cfg.Target != 1 || m.Cfg.Classes != 2 {
		t.Errorf("config after load = %+v", m.Cfg)
	}
	x := make([]float32, 2*3*32*32)
	for i := range x {
		x[i] = float32(i%7)/3 - 1
	}
	a, err := n.Predict(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Predict(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	if a[0] != b[0] || a[1] != b[1] {
		t.Errorf("predictions differ after load: %v vs %v", a, b)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.safetensors")
	os.WriteFile(broken, []byte("not a safetensors file"), 0o644)
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.safetensors"), "nope.safetensors"},
		{"broken", broken, "broken.safetensors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%s) error = %v, want it to name %q", tc.path, err, tc.want)
			}
		})
	}
}

func TestCrossSet(t *testing.T) {
	mk := func(n, label int) *dataset.Images {
		im := &dataset.Images{N: n, C: 3, H: 2, W: 2, Data: make([]float32, n*12), Labels: make([]int, n)}
		for i := range im.Labels {
			im.Labels[i] = label
		}
		return im
	}
	tests := []struct {
		mode       string
		wantZeros  int
		wantOnes   int
		wantErrSub string
	}{
		{Contrastive, 3, 3, ""},
		{Joint, 0, 6, ""},
		{"other", 0, 0, "mode"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			set, err := CrossSet(mk(10, 7), mk(3, 4), tc.mode, 1)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("error = %v, want %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			count := map[int]int{}
			for _, l := range set.Labels {
				count[l]++
			}
			if count[0] != tc.wantZeros || count[1] != tc.wantOnes {
				t.Errorf("labels %v, want %d zeros and %d ones", count, tc.wantZeros, tc.wantOnes)
			}
		})
	}
}
