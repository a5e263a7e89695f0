package biggan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"ganshift/internal/testutil"
	"ganshift/nn"
)

// referenceKeys reads a key listing of testdata: lines "name (d0, d1, …)",
// as in biggan-format.md.
func referenceKeys(t *testing.T, file string) map[string][]int64 {
	t.Helper()
	_, keys := testutil.KeyListing(t, file)
	return keys
}

// shapes maps each of p's tensor names to its shape.
func shapes(p *nn.Params) map[string][]int64 {
	out := map[string][]int64{}
	for _, v := range p.Vars() {
		out[v.Name] = v.T.Shape()
	}
	return out
}

// diffKeys describes how got's key set differs from want's ("" if equal).
func diffKeys(got, want map[string][]int64) string {
	var missing, extra []string
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return fmt.Sprintf("missing %q, unexpected %q", missing, extra)
}

// TestReleasedArchitecture builds the released 128×128 G and D at full
// width and compares parameter counts and every key's shape with the
// published state dicts.
func TestReleasedArchitecture(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the full-size networks (~600 MB)")
	}
	tests := []struct {
		net             string
		build           func() (*nn.Params, func(), error)
		keys            string
		params, buffers int64
		tensors         int
		checks          map[string][]int64
		absent          []string
	}{
		{
			net: "G",
			build: func() (*nn.Params, func(), error) {
				g, err := NewGenerator(Released(), 1)
				if err != nil {
					return nil, nil, err
				}
				return g.Params, g.Free, nil
			},
			keys: "testdata/g_keys.txt", params: 70_433_988, buffers: 63_644, tensors: 166,
			checks: map[string][]int64{
				"shared.weight":              {1000, 128},
				"linear.weight":              {24576, 20},
				"linear.u0":                  {1, 24576},
				"linear.sv0":                 {1},
				"blocks.0.0.conv1.weight":    {1536, 1536, 3, 3},
				"blocks.0.0.bn1.gain.weight": {1536, 148},
				"blocks.3.1.gamma":           {},
				"blocks.3.1.theta.weight":    {24, 192, 1, 1},
				"blocks.3.1.g.weight":        {96, 192, 1, 1},
				"blocks.4.0.conv_sc.weight":  {96, 192, 1, 1},
				"output_layer.0.gain":        {96},
				"output_layer.2.weight":      {3, 96, 3, 3},
			},
			absent: []string{"blocks.4.1.gamma", "blocks.2.1.gamma", "num_batches_tracked", "output_layer.0.num_batches_tracked"},
		},
		{
			net: "D",
			build: func() (*nn.Params, func(), error) {
				d, err := NewDiscriminator(Released(), 1)
				if err != nil {
					return nil, nil, err
				}
				return d.Params, d.Free, nil
			},
			keys: "testdata/d_keys.txt", params: 87_982_370, buffers: 13_192, tensors: 88,
			checks: map[string][]int64{
				"embed.weight":              {1000, 1536},
				"embed.u0":                  {1, 1000},
				"linear.weight":             {1, 1536},
				"linear.u0":                 {1, 1},
				"blocks.0.0.conv1.weight":   {96, 3, 3, 3},
				"blocks.0.0.conv_sc.weight": {96, 3, 1, 1},
				"blocks.0.1.o.weight":       {96, 48, 1, 1},
				"blocks.0.1.theta.weight":   {12, 96, 1, 1},
				"blocks.5.0.conv2.weight":   {1536, 1536, 3, 3},
			},
			absent: []string{"blocks.5.0.conv_sc.weight", "blocks.5.0.conv_sc.u0", "blocks.1.1.gamma", "shared.weight"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.net, func(t *testing.T) {
			p, free, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			defer free()
			params, buffers := p.Count()
			if params != tt.params || buffers != tt.buffers {
				t.Errorf("Count() = %d parameters + %d buffer values, want %d + %d", params, buffers, tt.params, tt.buffers)
			}
			if n := len(p.Vars()); n != tt.tensors {
				t.Errorf("%d tensors, want %d", n, tt.tensors)
			}
			got := shapes(p)
			for name, want := range tt.checks {
				if s, ok := got[name]; !ok {
					t.Errorf("no tensor %q", name)
				} else if !slices.Equal(s, want) {
					t.Errorf("%s: shape %v, want %v", name, s, want)
				}
			}
			for _, name := range tt.absent {
				if _, ok := got[name]; ok {
					t.Errorf("unexpected tensor %q", name)
				}
			}
			want := referenceKeys(t, tt.keys)
			if d := diffKeys(got, want); d != "" {
				t.Errorf("key set differs from %s: %s", tt.keys, d)
			}
			for name, w := range want {
				if s, ok := got[name]; ok && !slices.Equal(s, w) {
					t.Errorf("%s: shape %v, want %v (%s)", name, s, w, tt.keys)
				}
			}
			// Buffers are exactly the u0, sv0 and stored statistics.
			for _, v := range p.Vars() {
				isBuf := strings.HasSuffix(v.Name, ".u0") || strings.HasSuffix(v.Name, ".sv0") ||
					strings.HasSuffix(v.Name, ".stored_mean") || strings.HasSuffix(v.Name, ".stored_var")
				if v.Buffer != isBuf {
					t.Errorf("%s: Buffer = %v, want %v", v.Name, v.Buffer, isBuf)
				}
			}
		})
	}
}

// TestNarrowKeySet checks that the width does not change tensor names: a
// width-8 128×128 model has exactly the released key set.
func TestNarrowKeySet(t *testing.T) {
	cfg := Released()
	cfg.GCh, cfg.DCh, cfg.NClasses = 8, 8, 3
	g := newG(t, cfg, 1)
	d := newD(t, cfg, 1)
	for _, tt := range []struct {
		net  string
		p    *nn.Params
		keys string
	}{{"G", g.Params, "testdata/g_keys.txt"}, {"D", d.Params, "testdata/d_keys.txt"}} {
		want := referenceKeys(t, tt.keys)
		if d := diffKeys(shapes(tt.p), want); d != "" {
			t.Errorf("%s: key set differs from %s: %s", tt.net, tt.keys, d)
		}
		// Ranks do not depend on the width either.
		for _, v := range tt.p.Vars() {
			if w, ok := want[v.Name]; ok && len(v.T.Shape()) != len(w) {
				t.Errorf("%s %s: shape %v, want rank %d like %v", tt.net, v.Name, v.T.Shape(), len(w), w)
			}
		}
	}
	// Shapes that follow from width 8, 3 classes, dim_z 120, shared dim 128.
	for name, want := range map[string][]int64{
		"shared.weight":              {3, 128},
		"linear.weight":              {16 * 8 * 16, 20},
		"blocks.3.1.theta.weight":    {2, 16, 1, 1},
		"blocks.1.0.conv1.weight":    {64, 128, 3, 3},
		"blocks.4.0.bn2.bias.weight": {8, 148},
	} {
		if got := g.Params.Get(name).Shape(); !slices.Equal(got, want) {
			t.Errorf("G %s: shape %v, want %v", name, got, want)
		}
	}
	for name, want := range map[string][]int64{
		"embed.weight":            {3, 128},
		"blocks.0.1.g.weight":     {4, 8, 1, 1},
		"blocks.4.0.conv1.weight": {128, 64, 3, 3},
	} {
		if got := d.Params.Get(name).Shape(); !slices.Equal(got, want) {
			t.Errorf("D %s: shape %v, want %v", name, got, want)
		}
	}
}

// TestSmallArchitectures checks block structure at the other resolutions.
func TestSmallArchitectures(t *testing.T) {
	tests := []struct {
		res, attn        int
		gBlocks, dBlocks int
		gAttn, dAttn     string // the attention's key prefix
		dNoShortcut      []int  // D blocks whose shortcut is the identity
		linearOut        int64
	}{
		{32, 16, 3, 4, "blocks.1.1", "blocks.0.1", []int{2, 3}, 4 * 4 * 16},
		{64, 32, 4, 5, "blocks.2.1", "blocks.0.1", nil, 16 * 4 * 16},
		{128, 64, 5, 6, "blocks.3.1", "blocks.0.1", []int{5}, 16 * 4 * 16},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.res), func(t *testing.T) {
			cfg := tiny(tt.res, tt.attn)
			g := newG(t, cfg, 1)
			d := newD(t, cfg, 1)
			if n := len(g.blocks); n != tt.gBlocks {
				t.Errorf("G has %d blocks, want %d", n, tt.gBlocks)
			}
			if n := len(d.blocks); n != tt.dBlocks {
				t.Errorf("D has %d blocks, want %d", n, tt.dBlocks)
			}
			if g.Params.Get(tt.gAttn+".gamma") == nil {
				t.Errorf("G has no %s.gamma", tt.gAttn)
			}
			if d.Params.Get(tt.dAttn+".gamma") == nil {
				t.Errorf("D has no %s.gamma", tt.dAttn)
			}
			if len(g.attn) != 1 || len(d.attn) != 1 {
				t.Errorf("%d G and %d D attention layers, want 1 each", len(g.attn), len(d.attn))
			}
			for i := range d.blocks {
				name := fmt.Sprintf("blocks.%d.0.conv_sc.weight", i)
				if want := !slices.Contains(tt.dNoShortcut, i); (d.Params.Get(name) != nil) != want {
					t.Errorf("D has %s: %v, want %v", name, !want, want)
				}
			}
			if got := g.Params.Get("linear.weight").Shape(); !slices.Equal(got, []int64{tt.linearOut, int64(cfg.ZChunk())}) {
				t.Errorf("G linear.weight shape %v, want [%d %d]", got, tt.linearOut, cfg.ZChunk())
			}
		})
	}
}
