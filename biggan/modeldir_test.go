package biggan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"ganshift/checkpoint"
)

// saved writes a tiny model (G seed 1, G_ema seed 3 unless noEma, D seed
// 2) to a new directory and returns both.
func saved(t *testing.T, noEma bool) (*Model, string) {
	t.Helper()
	cfg := tiny(32, 16)
	m := &Model{Cfg: cfg, G: newG(t, cfg, 1), D: newD(t, cfg, 2),
		Provenance: map[string]any{"command": "test", "step": 12.0}}
	if !noEma {
		m.GEma = newG(t, cfg, 3)
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := SaveDir(dir, m); err != nil {
		t.Fatalf("SaveDir: %v", err)
	}
	return m, dir
}

func load(t *testing.T, dir string) *Model {
	t.Helper()
	m, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	t.Cleanup(m.Free)
	return m
}

func images(t *testing.T, g *Generator, z []float32, y []int64) []float32 {
	t.Helper()
	pix, err := g.Images(z, y, 4)
	if err != nil {
		t.Fatal(err)
	}
	return pix
}

func TestModelDirRoundTrip(t *testing.T) {
	orig, dir := saved(t, false)
	m := load(t, dir)

	if !reflect.DeepEqual(m.Cfg, orig.Cfg) {
		t.Errorf("config %+v, want %+v", m.Cfg, orig.Cfg)
	}
	if !reflect.DeepEqual(m.Provenance, orig.Provenance) {
		t.Errorf("provenance %v, want %v", m.Provenance, orig.Provenance)
	}
	if m.GEma == nil {
		t.Fatal("no G_ema after loading a directory that has one")
	}
	for _, tt := range []struct {
		name      string
		got, want map[string]checkpoint.Tensor
	}{
		{"G", state(t, m.G.Params), state(t, orig.G.Params)},
		{"G_ema", state(t, m.GEma.Params), state(t, orig.GEma.Params)},
		{"D", state(t, m.D.Params), state(t, orig.D.Params)},
	} {
		if c := changed(tt.got, tt.want); len(c) != 0 || len(tt.got) != len(tt.want) {
			t.Errorf("%s: %d tensors, %d expected; differing: %q", tt.name, len(tt.got), len(tt.want), c)
		}
	}

	z := normals(8, 3*m.Cfg.DimZ)
	y := []int64{4, 0, 2}
	if m.Sampler() != m.GEma {
		t.Errorf("Sampler() is not G_ema")
	}
	got := images(t, m.Sampler(), z, y)
	if diff := maxAbsDiff(got, images(t, orig.GEma, z, y)); diff != 0 {
		t.Errorf("loaded sampler's images differ from the saved G_ema's by %g", diff)
	}
	if diff := maxAbsDiff(got, images(t, orig.G, z, y)); diff < 1e-3 {
		t.Errorf("loaded sampler's images match G's (difference %g), want G_ema's", diff)
	}
	if diff := maxAbsDiff(images(t, m.G, z, y), images(t, orig.G, z, y)); diff != 0 {
		t.Errorf("loaded G's images differ by %g", diff)
	}

	js, err := os.ReadFile(filepath.Join(dir, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	var mj modelJSON
	if err := json.Unmarshal(js, &mj); err != nil {
		t.Fatal(err)
	}
	if want := []string{"G.safetensors", "G_ema.safetensors", "D.safetensors"}; !slices.Equal(mj.Files, want) || mj.Format != formatName {
		t.Errorf("model.json: format %q, files %q; want %q, %q", mj.Format, mj.Files, formatName, want)
	}
	// Each weights file carries the config too.
	_, meta, err := checkpoint.Load(filepath.Join(dir, "D.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(meta["ganshift_config"]), &cfg); err != nil {
		t.Fatalf("D.safetensors metadata %q: %v", meta, err)
	}
	if !reflect.DeepEqual(cfg, orig.Cfg) {
		t.Errorf("D.safetensors config %+v, want %+v", cfg, orig.Cfg)
	}
}

func TestModelDirWithoutEma(t *testing.T) {
	orig, dir := saved(t, true)
	if _, err := os.Stat(filepath.Join(dir, "G_ema.safetensors")); !os.IsNotExist(err) {
		t.Errorf("G_ema.safetensors written for a model without G_ema (stat: %v)", err)
	}
	m := load(t, dir)
	if m.GEma != nil {
		t.Fatal("G_ema loaded from a directory without one")
	}
	if m.Sampler() != m.G {
		t.Errorf("Sampler() is not G")
	}
	z := normals(9, 2*m.Cfg.DimZ)
	y := []int64{1, 1}
	if diff := maxAbsDiff(images(t, m.Sampler(), z, y), images(t, orig.G, z, y)); diff != 0 {
		t.Errorf("loaded G's images differ by %g", diff)
	}
}

// editTensors rewrites one weights file of dir through edit.
func editTensors(t *testing.T, dir, file string, edit func(map[string]checkpoint.Tensor)) {
	t.Helper()
	path := filepath.Join(dir, file)
	st, meta, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(st)
	if err := checkpoint.Save(path, st, meta); err != nil {
		t.Fatal(err)
	}
}

// editJSON rewrites model.json of dir through edit.
func editJSON(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "model.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]any
	if err := json.Unmarshal(raw, &js); err != nil {
		t.Fatal(err)
	}
	edit(js)
	if raw, err = json.Marshal(js); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDirErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, dir string)
		// want lists what the error must name; "$DIR" stands for the
		// model directory.
		want []string
	}{
		{
			"wrong shape",
			func(t *testing.T, dir string) {
				editTensors(t, dir, "G.safetensors", func(st map[string]checkpoint.Tensor) {
					st["blocks.1.0.conv_sc.bias"] = checkpoint.Tensor{Shape: []int64{17}, Data: make([]float32, 17)}
				})
			},
			[]string{"$DIR/G.safetensors", `"blocks.1.0.conv_sc.bias"`, "[17]", "[16]"},
		},
		{
			"wrong rank",
			func(t *testing.T, dir string) {
				editTensors(t, dir, "D.safetensors", func(st map[string]checkpoint.Tensor) {
					old := st["embed.weight"]
					st["embed.weight"] = checkpoint.Tensor{Shape: []int64{old.Shape[0] * old.Shape[1]}, Data: old.Data}
				})
			},
			[]string{"$DIR/D.safetensors", `"embed.weight"`, "[160]", "[5 32]"},
		},
		{
			"missing key",
			func(t *testing.T, dir string) {
				editTensors(t, dir, "D.safetensors", func(st map[string]checkpoint.Tensor) { delete(st, "blocks.0.1.o.u0") })
			},
			[]string{"$DIR/D.safetensors", "missing", `"blocks.0.1.o.u0"`},
		},
		{
			"unexpected key",
			func(t *testing.T, dir string) {
				editTensors(t, dir, "G_ema.safetensors", func(st map[string]checkpoint.Tensor) {
					st["blocks.2.1.gamma"] = checkpoint.Tensor{Shape: []int64{}, Data: []float32{0}}
				})
			},
			[]string{"$DIR/G_ema.safetensors", "unexpected", `"blocks.2.1.gamma"`},
		},
		{
			"no model.json",
			func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "model.json")); err != nil {
					t.Fatal(err)
				}
			},
			[]string{"$DIR", "not a model directory"},
		},
		{
			"no D file",
			func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "D.safetensors")); err != nil {
					t.Fatal(err)
				}
			},
			[]string{"$DIR/D.safetensors"},
		},
		{
			"bad format",
			func(t *testing.T, dir string) { editJSON(t, dir, func(js map[string]any) { js["format"] = "other/2" }) },
			[]string{"$DIR/model.json", `"other/2"`},
		},
		{
			"bad config",
			func(t *testing.T, dir string) {
				editJSON(t, dir, func(js map[string]any) { js["config"].(map[string]any)["resolution"] = 48 })
			},
			[]string{"resolution 48"},
		},
		{
			"config of another width",
			func(t *testing.T, dir string) {
				editJSON(t, dir, func(js map[string]any) { js["config"].(map[string]any)["g_ch"] = 8 })
			},
			[]string{"$DIR/G.safetensors", `"linear.weight"`, "[256 4]", "[512 4]"},
		},
		{
			"broken json",
			func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte("{"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			[]string{"$DIR/model.json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir := saved(t, false)
			tt.edit(t, dir)
			m, err := LoadDir(dir)
			if err == nil {
				m.Free()
				t.Fatalf("LoadDir succeeded, want an error naming %q", tt.want)
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "$DIR/", dir+string(filepath.Separator))
				w = strings.ReplaceAll(w, "$DIR", dir)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadDir error %q does not contain %q", err, w)
				}
			}
		})
	}
}
