package biggan

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ganshift/checkpoint"
)

// gOnly and dOnly are the parts of cfg that a G or a D state dict shows.
func gOnly(cfg Config) Config {
	cfg = cfg.withDefaults()
	cfg.DCh, cfg.DAttn = 0, nil
	return cfg
}

func dOnly(cfg Config) Config {
	cfg = cfg.withDefaults()
	cfg.GCh, cfg.DimZ, cfg.SharedDim, cfg.GAttn = 0, 0, 0, nil
	return cfg
}

func TestInferConfig(t *testing.T) {
	wide := tiny(64, 0)
	wide.GAttn, wide.DAttn = []int{16, 32}, []int{8}
	odd := tiny(128, 64)
	odd.GCh, odd.DCh, odd.DimZ, odd.SharedDim, odd.NClasses = 8, 16, 6*7, 9, 13
	tests := []Config{tiny(32, 0), tiny(32, 16), tiny(64, 32), tiny(128, 64), tiny(128, 0), wide, odd}
	for _, cfg := range tests {
		t.Run(fmt.Sprintf("%d/G%d/D%d/attn%v%v", cfg.Resolution, cfg.GCh, cfg.DCh, cfg.GAttn, cfg.DAttn), func(t *testing.T) {
			g := newG(t, cfg, 1)
			d := newD(t, cfg, 2)
			got, err := InferConfig(state(t, g.Params), true)
			if err != nil {
				t.Fatalf("G: %v", err)
			}
			if want := gOnly(cfg); !configEqual(got, want) {
				t.Errorf("G: inferred %+v, want %+v", got, want)
			}
			got, err = InferConfig(state(t, d.Params), false)
			if err != nil {
				t.Fatalf("D: %v", err)
			}
			if want := dOnly(cfg); !configEqual(got, want) {
				t.Errorf("D: inferred %+v, want %+v", got, want)
			}
		})
	}
}

// TestInferReleased infers the released model's architecture from the key
// listing of biggan-format.md (shapes only, no values).
func TestInferReleased(t *testing.T) {
	for _, tt := range []struct {
		file string
		isG  bool
		want Config
	}{
		{"testdata/g_keys.txt", true, gOnly(Released())},
		{"testdata/d_keys.txt", false, dOnly(Released())},
	} {
		st := map[string]checkpoint.Tensor{}
		for k, shape := range referenceKeys(t, tt.file) {
			st[k] = checkpoint.Tensor{Shape: shape}
		}
		got, err := infer(st, tt.isG)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if !configEqual(got, tt.want) {
			t.Errorf("%s: inferred %+v, want %+v", tt.file, got, tt.want)
		}
	}
}

// edit returns a copy of st changed by the edits: a shape sets the key's
// shape (adding it when absent), nil deletes it, and a key ending in "*"
// deletes every key with that prefix.
func edit(st map[string]checkpoint.Tensor, edits map[string][]int64) map[string]checkpoint.Tensor {
	out := maps.Clone(st)
	for k, shape := range edits {
		switch {
		case strings.HasSuffix(k, "*"):
			for name := range out {
				if strings.HasPrefix(name, strings.TrimSuffix(k, "*")) {
					delete(out, name)
				}
			}
		case shape == nil:
			delete(out, k)
		default:
			out[k] = checkpoint.Tensor{Shape: shape}
		}
	}
	return out
}

func TestInferConfigErrors(t *testing.T) {
	g128 := state(t, newG(t, tiny(128, 64), 1).Params) // G width 4, 5 classes, shared 16, chunk 4
	d128 := state(t, newD(t, tiny(128, 64), 2).Params) // D width 8
	g32 := state(t, newG(t, tiny(32, 0), 1).Params)
	tests := []struct {
		name  string
		st    map[string]checkpoint.Tensor
		isG   bool
		edits map[string][]int64
		want  []string
	}{
		{"G without shared", g128, true, map[string][]int64{"shared.weight": nil}, []string{`missing tensor "shared.weight"`}},
		{"D given as G", d128, true, nil, []string{`"shared.weight"`, "looks like a discriminator"}},
		{"G given as D", g128, false, nil, []string{`"embed.weight"`, "looks like a generator"}},
		{"no blocks", g128, true, map[string][]int64{"blocks.*": nil}, []string{`missing tensor "blocks.0.0.conv1.weight"`}},
		{"seven G blocks", g128, true, map[string][]int64{"blocks.5.0.conv1.weight": {4, 4, 3, 3}, "blocks.6.0.conv1.weight": {4, 4, 3, 3}},
			[]string{"7 generator blocks", "fit no resolution"}},
		// Without its last block a 128 G reads as a 64 G up to the output
		// layer, which has half the channels a 64 G of that width needs.
		{"128 G without its last block", g128, true, map[string][]int64{"blocks.4.*": nil},
			[]string{`tensor "output_layer.0.gain" has shape [4]`, "needs [8]", "64×64 G"}},
		{"linear not a matrix", g128, true, map[string][]int64{"linear.weight": {1024}}, []string{`"linear.weight" has shape [1024]`, "matrix"}},
		{"bn input not shared+chunk", g128, true, map[string][]int64{"blocks.0.0.bn1.gain.weight": {64, 21}},
			[]string{`blocks.0.0.bn1.gain.weight has shape [64 21]`, "shared embedding's 16 plus the z chunk's 4"}},
		{"width not a multiple", g32, true, map[string][]int64{"blocks.2.0.conv2.weight": {6, 16, 3, 3}},
			[]string{"blocks.2.0.conv2.weight has shape [6 16 3 3]", "not a multiple of 4"}},
		{"wrong conv shape", g128, true, map[string][]int64{"blocks.2.0.conv1.weight": {16, 32, 1, 1}},
			[]string{`tensor "blocks.2.0.conv1.weight" has shape [16 32 1 1]`, "needs [16 32 3 3]"}},
		{"first bad key in network order", g128, true, map[string][]int64{"blocks.3.0.conv1.weight": {1, 1, 1, 1}, "blocks.1.0.conv2.weight": {1, 1, 1, 1}},
			[]string{`"blocks.1.0.conv2.weight"`}},
		{"missing u0", g128, true, map[string][]int64{"blocks.1.0.conv_sc.u0": nil}, []string{`missing tensor "blocks.1.0.conv_sc.u0" (shape [1 32])`}},
		{"missing attention part", g128, true, map[string][]int64{"blocks.3.1.phi.weight": nil}, []string{`missing tensor "blocks.3.1.phi.weight"`}},
		{"extra key", g128, true, map[string][]int64{"blocks.0.0.bn1.num_batches_tracked": {}},
			[]string{`unexpected tensor "blocks.0.0.bn1.num_batches_tracked"`}},
		{"D image channels", d128, false, map[string][]int64{"blocks.0.0.conv1.weight": {8, 4, 3, 3}}, []string{"4 input channels, not the image's 3"}},
		{"D without embed", d128, false, map[string][]int64{"embed.weight": nil}, []string{`missing tensor "embed.weight"`}},
		{"D embed width", d128, false, map[string][]int64{"embed.weight": {5, 64}}, []string{`tensor "embed.weight" has shape [5 64]`, "needs [5 128]"}},
		{"three D blocks", d128, false, map[string][]int64{"blocks.3.*": nil}, []string{"3 discriminator blocks", "fit no resolution"}},
		{"D without conv_sc", d128, false, map[string][]int64{"blocks.2.0.conv_sc.weight": nil}, []string{`missing tensor "blocks.2.0.conv_sc.weight"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := InferConfig(edit(tt.st, tt.edits), tt.isG)
			if err == nil {
				t.Fatalf("InferConfig = %+v, want an error", cfg)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func tinyPth(name string) string { return filepath.Join("testdata", "pth", name) }

func TestLoadPthNetworks(t *testing.T) {
	// tools/reference/make_fixtures.py: width 1, 3 classes, dim_z 12, shared 4.
	g, err := LoadG(tinyPth("tiny_G_module_zip.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	want := Config{Resolution: 128, GCh: 1, DimZ: 12, SharedDim: 4, NClasses: 3, SNEps: 1e-6, BNEps: 1e-5}
	if !configEqual(g.Cfg, want) {
		t.Errorf("G config %+v, want %+v", g.Cfg, want)
	}
	d, err := LoadD(tinyPth("tiny_D.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Free()
	want = Config{Resolution: 128, DCh: 1, NClasses: 3, SNEps: 1e-6, BNEps: 1e-5}
	if !configEqual(d.Cfg, want) {
		t.Errorf("D config %+v, want %+v", d.Cfg, want)
	}
	// The values arrive, not just the shapes.
	raw, err := checkpoint.LoadPth(tinyPth("tiny_D.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if got := state(t, d.Params); !slices.Equal(got["embed.weight"].Data, raw["embed.weight"].Data) || len(raw["embed.weight"].Data) != 48 {
		t.Errorf("embed.weight %v, file has %v", got["embed.weight"].Data, raw["embed.weight"].Data)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		load func() error
		want []string
	}{
		{"wrong shape", func() error { _, err := LoadG(tinyPth("tiny_G_bad_shape.pth")); return err },
			[]string{tinyPth("tiny_G_bad_shape.pth"), `tensor "blocks.1.0.conv2.weight" has shape [8 8 1 3]`, "needs [8 8 3 3]"}},
		{"truncated", func() error { _, err := LoadG(tinyPth("tiny_G_truncated.pth")); return err },
			[]string{tinyPth("tiny_G_truncated.pth"), "truncated"}},
		{"D as G", func() error { _, err := LoadG(tinyPth("tiny_D.pth")); return err },
			[]string{tinyPth("tiny_D.pth"), "looks like a discriminator"}},
		{"G as D", func() error { _, err := LoadD(tinyPth("tiny_G_module_zip.pth")); return err },
			[]string{tinyPth("tiny_G_module_zip.pth"), "looks like a generator"}},
		{"missing file", func() error { _, err := LoadD(tinyPth("nope.pth")); return err },
			[]string{tinyPth("nope.pth"), "no such file"}},
		{"classes differ", func() error {
			m, err := LoadFiles(Files{G: tinyPth("tiny_G_module_zip.pth"), D: parityPath("D.pth")})
			if err == nil {
				m.Free()
			}
			return err
		}, []string{"G has 3 classes but D has 10", tinyPth("tiny_G_module_zip.pth"), parityPath("D.pth")}},
		{"G and G_ema differ", func() error {
			m, err := LoadFiles(Files{G: parityPath("G.pth"), GEma: tinyPth("tiny_G_module_zip.pth")})
			if err == nil {
				m.Free()
			}
			return err
		}, []string{"different generators", "width 8 vs 1"}},
		{"no generator", func() error {
			_, err := LoadFiles(Files{D: parityPath("D.pth")})
			return err
		}, []string{"no generator"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.load()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestLoadSafetensors reads generators from safetensors files: with
// ganshift's config in the metadata, without it (inferred), and with a
// config that does not fit the tensors.
func TestLoadSafetensors(t *testing.T) {
	cfg := tiny(64, 32)
	g := newG(t, cfg, 5)
	st := state(t, g.Params)
	dir := t.TempDir()
	withMeta := filepath.Join(dir, "with.safetensors")
	if err := SaveParams(withMeta, g.Params, cfg); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.safetensors")
	if err := checkpoint.Save(plain, st, nil); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong.safetensors")
	other := cfg
	other.GCh = 8
	if err := SaveParams(wrong, g.Params, other); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		want    Config
		wantErr []string
	}{
		{withMeta, cfg.withDefaults(), nil}, // D fields too, from the metadata
		{plain, gOnly(cfg), nil},
		{wrong, Config{}, []string{wrong, `tensor "linear.weight" has shape [1024 4]`, "needs [2048 4]"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			got, err := LoadG(tt.path)
			if tt.wantErr != nil {
				if err == nil {
					got.Free()
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer got.Free()
			if !configEqual(got.Cfg, tt.want) {
				t.Errorf("config %+v, want %+v", got.Cfg, tt.want)
			}
			if diff := changed(state(t, got.Params), st); len(diff) != 0 {
				t.Errorf("tensors differ from the saved ones: %v", diff)
			}
		})
	}
}

// TestLoadFilesSaveDir imports the parity fixtures into a model directory
// and checks that the directory's G_ema still draws PyTorch's images.
func TestLoadFilesSaveDir(t *testing.T) {
	m, err := LoadFiles(Files{G: parityPath("G.pth"), GEma: parityPath("G_zip.pth"), D: parityPath("D.pth")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	want := Config{Resolution: 128, GCh: 8, DCh: 8, DimZ: 60, SharedDim: 32, NClasses: 10,
		GAttn: []int{64}, DAttn: []int{64}, SNEps: 1e-6, BNEps: 1e-5}
	if !configEqual(m.Cfg, want) {
		t.Fatalf("model config %+v, want %+v", m.Cfg, want)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := SaveDir(dir, m); err != nil {
		t.Fatal(err)
	}
	back := load(t, dir)
	if !configEqual(back.Cfg, want) || back.GEma == nil {
		t.Fatalf("reloaded config %+v (G_ema present: %v)", back.Cfg, back.GEma != nil)
	}
	z, y := parityInputs(t)
	checkClose(t, "imported G_ema eval", images(t, back.Sampler(), z, y), "g_eval.npy")
	if got := back.Provenance["D"]; got != parityPath("D.pth") {
		t.Errorf("provenance D = %v", got)
	}
}
