package nn

import (
	"math"
	"slices"
	"strings"
	"testing"

	"ganshift/checkpoint"
)

func names(vars []*Var) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Name
	}
	return out
}

func TestRegistration(t *testing.T) {
	p := sample(t, 1)
	want := []struct {
		name   string
		shape  []int64
		buffer bool
	}{
		{"blocks.0.0.conv1.weight", []int64{4, 3, 3, 3}, false},
		{"blocks.0.0.conv1.u0", []int64{1, 4}, true},
		{"blocks.0.0.conv1.sv0", []int64{1}, true},
		{"blocks.0.0.conv1.bias", []int64{4}, false},
		{"blocks.0.0.bn1.gain.weight", []int64{3, 6}, false},
		{"blocks.0.0.bn1.gain.u0", []int64{1, 3}, true},
		{"blocks.0.0.bn1.gain.sv0", []int64{1}, true},
		{"blocks.0.0.bn1.stored_mean", []int64{3}, true},
		{"blocks.0.0.bn1.stored_var", []int64{3}, true},
		{"blocks.1.0.bn2.bias.weight", []int64{2, 6}, false},
		{"blocks.1.0.bn2.bias.u0", []int64{1, 2}, true},
		{"blocks.1.0.bn2.bias.sv0", []int64{1}, true},
		{"linear.weight", []int64{2, 5}, false},
		{"linear.u0", []int64{1, 2}, true},
		{"linear.sv0", []int64{1}, true},
		{"linear.bias", []int64{2}, false},
		{"embed.weight", []int64{7, 2}, false},
		{"embed.u0", []int64{1, 7}, true},
		{"embed.sv0", []int64{1}, true},
		{"shared.weight", []int64{7, 3}, false},
		{"gamma", []int64{}, false},
	}
	vars := p.Vars()
	if len(vars) != len(want) {
		t.Fatalf("%d vars %q, want %d", len(vars), names(vars), len(want))
	}
	for i, w := range want {
		v := vars[i]
		if v.Name != w.name || !slices.Equal(v.T.Shape(), w.shape) || v.Buffer != w.buffer {
			t.Errorf("var %d = %s %v buffer %v, want %s %v buffer %v", i, v.Name, v.T.Shape(), v.Buffer, w.name, w.shape, w.buffer)
		}
		if p.Get(w.name) != v.T {
			t.Errorf("Get(%q) is not the registered tensor", w.name)
		}
	}
	if p.Get("blocks.0.0.conv1") != nil || p.Get("") != nil {
		t.Errorf("Get of an unregistered name is not nil")
	}

	// Initial values.
	fills := map[string]float32{
		"blocks.0.0.conv1.bias": 0, "linear.bias": 0, "gamma": 0.25,
		"blocks.0.0.bn1.stored_mean": 0, "blocks.0.0.bn1.stored_var": 1,
		"linear.sv0": 1, "embed.sv0": 1,
	}
	for name, f := range fills {
		for i, x := range read(t, p, name) {
			if x != f {
				t.Errorf("%s[%d] = %v, want %v", name, i, x, f)
			}
		}
	}
	for _, name := range []string{"blocks.0.0.conv1.u0", "embed.u0", "linear.u0"} {
		var n float64
		for _, x := range read(t, p, name) {
			n += float64(x) * float64(x)
		}
		if math.Abs(math.Sqrt(n)-1) > 1e-6 {
			t.Errorf("%s has norm %v, want 1", name, math.Sqrt(n))
		}
	}
	if read(t, p, "embed.u0")[0] == read(t, p, "embed.u0")[1] {
		t.Errorf("embed.u0 is not random: %v", read(t, p, "embed.u0"))
	}
}

func TestInitialDistribution(t *testing.T) {
	p := NewParams(3)
	defer p.Free()
	p.Fan("w", 64, 16, 4, 4) // fan-in 256: std 1/16
	p.Normal("n", 0.5, 100, 100)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		vals []float32
		std  float64
	}{{"Fan", read(t, p, "w"), 1.0 / 16}, {"Normal", read(t, p, "n"), 0.5}} {
		var sum, sq float64
		for _, x := range tt.vals {
			sum += float64(x)
			sq += float64(x) * float64(x)
		}
		mean := sum / float64(len(tt.vals))
		std := math.Sqrt(sq/float64(len(tt.vals)) - mean*mean)
		if math.Abs(mean) > 0.05*tt.std || math.Abs(std-tt.std) > 0.03*tt.std {
			t.Errorf("%s: mean %v, std %v; want 0, %v", tt.name, mean, std, tt.std)
		}
	}

	// Same seed, same values; another seed, others.
	a, b, c := sample(t, 5), sample(t, 5), sample(t, 6)
	if !slices.Equal(read(t, a, "shared.weight"), read(t, b, "shared.weight")) ||
		!slices.Equal(read(t, a, "linear.u0"), read(t, b, "linear.u0")) {
		t.Errorf("two sets from seed 5 differ")
	}
	if slices.Equal(read(t, a, "blocks.0.0.conv1.weight"), read(t, c, "blocks.0.0.conv1.weight")) {
		t.Errorf("seeds 5 and 6 give the same weights")
	}
}

func TestRegistrationErrors(t *testing.T) {
	p := NewParams(1)
	defer p.Free()
	p.Const("a", 1, 2)
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	p.Buffer("a", 0, 3)
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), `"a" registered twice`) {
		t.Errorf("Err() after a duplicate = %v, want one naming \"a\"", err)
	}
	// Later registrations do nothing.
	if x := p.Const("b", 1, 2); x.Valid() || p.Get("b") != nil {
		t.Errorf("registration after an error made a tensor")
	}
	if n := len(p.Vars()); n != 1 {
		t.Errorf("%d vars, want 1", n)
	}
	if err := p.Err(); !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("Err() = %v, want the first error kept", err)
	}
}

func TestCount(t *testing.T) {
	p := sample(t, 1)
	params, buffers := p.Count()
	// 108+4 conv, 18 gain, 12 bias, 10+2 linear, 14 embed, 21 shared, 1 gamma.
	// u0 and sv0: 4+1, 3+1, 2+1, 2+1, 7+1; stored stats 3+3.
	if params != 190 || buffers != 29 {
		t.Errorf("Count() = %d, %d; want 190, 29", params, buffers)
	}
	empty := NewParams(1)
	if a, b := empty.Count(); a != 0 || b != 0 {
		t.Errorf("empty Count() = %d, %d", a, b)
	}
}

func TestTrainable(t *testing.T) {
	tests := []struct {
		patterns []string
		want     []string
		err      string
	}{
		{nil, sampleParams, ""},
		{[]string{"*"}, sampleParams, ""},
		// '*' stops only at '/', so it spans the dots of these names.
		{[]string{"blocks.*.0.bn*"}, []string{"blocks.0.0.bn1.gain.weight", "blocks.1.0.bn2.bias.weight"}, ""},
		{[]string{"*.weight"}, []string{"blocks.0.0.conv1.weight", "blocks.0.0.bn1.gain.weight", "blocks.1.0.bn2.bias.weight", "linear.weight", "embed.weight", "shared.weight"}, ""},
		{[]string{"blocks.*"}, sampleParams[:4], ""},
		{[]string{"blocks.0.*"}, sampleParams[:3], ""},
		{[]string{"blocks.[1-9].*"}, []string{"blocks.1.0.bn2.bias.weight"}, ""},
		{[]string{"blocks.?.0.conv1.*"}, []string{"blocks.0.0.conv1.weight", "blocks.0.0.conv1.bias"}, ""},
		{[]string{"linear.*"}, []string{"linear.weight", "linear.bias"}, ""},
		// Registration order, not pattern order.
		{[]string{"gamma", "embed.weight"}, []string{"embed.weight", "gamma"}, ""},
		{[]string{"linear.*", "*.bias"}, []string{"blocks.0.0.conv1.bias", "linear.weight", "linear.bias"}, ""},
		// Buffers are never trainable.
		{[]string{"*.u0", "*.sv0", "*.stored_*"}, nil, ""},
		{[]string{"Linear.*"}, nil, ""},
		{[]string{"linear"}, nil, ""},
		{[]string{"blocks/0/*"}, nil, ""},
		{[]string{"blocks.[0"}, nil, `"blocks.[0"`},
		{[]string{"linear.*", "["}, nil, `"["`},
	}
	p := sample(t, 1)
	for _, tt := range tests {
		t.Run(strings.Join(tt.patterns, ","), func(t *testing.T) {
			vars, err := p.Trainable(tt.patterns...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Trainable(%q) error = %v, want one naming %s", tt.patterns, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Trainable(%q): %v", tt.patterns, err)
			}
			if got := names(vars); !slices.Equal(got, tt.want) {
				t.Errorf("Trainable(%q) = %q, want %q", tt.patterns, got, tt.want)
			}
			for _, v := range vars {
				if p.Get(v.Name) != v.T {
					t.Errorf("%s: not the registered tensor", v.Name)
				}
			}
		})
	}
}

func TestSetRequiresGrad(t *testing.T) {
	p := sample(t, 1)
	check := func(step string, want []string) {
		t.Helper()
		for _, v := range p.Vars() {
			if got := v.T.RequiresGrad(); got != slices.Contains(want, v.Name) {
				t.Errorf("%s: %s requires grad %v, want %v", step, v.Name, got, !got)
			}
		}
	}
	check("initially", nil)
	for _, step := range []struct {
		patterns []string
		want     []string
	}{
		{[]string{"*.bias"}, []string{"blocks.0.0.conv1.bias", "linear.bias"}},
		{[]string{"gamma", "blocks.*.0.bn*"}, []string{"blocks.0.0.bn1.gain.weight", "blocks.1.0.bn2.bias.weight", "gamma"}},
		{nil, sampleParams},
	} {
		vars, err := p.Trainable(step.patterns...)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetRequiresGrad(vars); err != nil {
			t.Fatal(err)
		}
		check(strings.Join(step.patterns, ","), step.want)
	}
	if err := p.SetRequiresGrad(nil); err != nil {
		t.Fatal(err)
	}
	check("none", nil)
}

func TestStateLoadRoundTrip(t *testing.T) {
	a, b := sample(t, 1), sample(t, 2)
	write(t, a, "gamma", []float32{-3})
	write(t, a, "blocks.0.0.bn1.stored_var", []float32{0.5, 2, 7})
	st := snapshot(t, a)
	if len(st) != len(a.Vars()) {
		t.Fatalf("State has %d tensors, want %d", len(st), len(a.Vars()))
	}
	for _, v := range a.Vars() {
		got := st[v.Name]
		if !slices.Equal(got.Shape, v.T.Shape()) || !slices.Equal(got.Data, read(t, a, v.Name)) {
			t.Errorf("State()[%q] = %v %v, want the tensor's", v.Name, got.Shape, got.Data)
		}
	}
	if g := st["gamma"]; len(g.Shape) != 0 || !slices.Equal(g.Data, []float32{-3}) {
		t.Errorf("State()[gamma] = %v, want scalar -3", g)
	}
	if slices.Equal(read(t, b, "shared.weight"), st["shared.weight"].Data) {
		t.Fatal("seeds 1 and 2 give the same shared.weight")
	}
	if err := b.Load(st, "a.safetensors"); err != nil {
		t.Fatal(err)
	}
	for _, v := range b.Vars() {
		if got := read(t, b, v.Name); !slices.Equal(got, st[v.Name].Data) {
			t.Errorf("after Load, %s = %v, want %v", v.Name, got, st[v.Name].Data)
		}
	}
	// State is a copy: changing the network later does not change it.
	write(t, a, "gamma", []float32{9})
	if st["gamma"].Data[0] != -3 {
		t.Errorf("State shares memory with the tensors")
	}
}

func TestLoadStrict(t *testing.T) {
	tests := []struct {
		name string
		edit func(st map[string]checkpoint.Tensor)
		want []string
	}{
		{"missing", func(st map[string]checkpoint.Tensor) { delete(st, "linear.u0") },
			[]string{"G.safetensors", "missing", `"linear.u0"`, "[1 2]"}},
		{"missing scalar", func(st map[string]checkpoint.Tensor) { delete(st, "gamma") },
			[]string{"G.safetensors", "missing", `"gamma"`}},
		{"unexpected", func(st map[string]checkpoint.Tensor) {
			st["blocks.0.1.gamma"] = checkpoint.Tensor{Shape: []int64{}, Data: []float32{1}}
		}, []string{"G.safetensors", "unexpected", `"blocks.0.1.gamma"`}},
		{"shape", func(st map[string]checkpoint.Tensor) {
			st["embed.weight"] = checkpoint.Tensor{Shape: []int64{8, 2}, Data: make([]float32, 16)}
		}, []string{"G.safetensors", `"embed.weight"`, "[8 2]", "[7 2]"}},
		{"transposed", func(st map[string]checkpoint.Tensor) {
			st["linear.weight"] = checkpoint.Tensor{Shape: []int64{5, 2}, Data: st["linear.weight"].Data}
		}, []string{`"linear.weight"`, "[5 2]", "[2 5]"}},
		{"rank", func(st map[string]checkpoint.Tensor) {
			st["gamma"] = checkpoint.Tensor{Shape: []int64{1}, Data: []float32{1}}
		}, []string{`"gamma"`, "[1]", "[]"}},
		{"data length", func(st map[string]checkpoint.Tensor) {
			st["shared.weight"] = checkpoint.Tensor{Shape: []int64{7, 3}, Data: make([]float32, 20)}
		}, []string{"G.safetensors", `"shared.weight"`, "20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := sample(t, 1), sample(t, 2)
			st := snapshot(t, a)
			tt.edit(st)
			before := snapshot(t, b)
			err := b.Load(st, "G.safetensors")
			if err == nil {
				t.Fatalf("Load succeeded, want an error naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error %q does not contain %q", err, w)
				}
			}
			// Nothing changes unless everything fits.
			for k, v := range snapshot(t, b) {
				if !slices.Equal(v.Data, before[k].Data) {
					t.Errorf("failed Load changed %s", k)
				}
			}
		})
	}
}

func TestCopyFrom(t *testing.T) {
	a, b := sample(t, 1), sample(t, 2)
	if err := b.CopyFrom(a); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, a)
	for k, v := range snapshot(t, b) {
		if !slices.Equal(v.Data, want[k].Data) {
			t.Errorf("after CopyFrom, %s differs", k)
		}
	}
	// The copy is by value.
	write(t, a, "gamma", []float32{4})
	if got := read(t, b, "gamma"); got[0] != 0.25 {
		t.Errorf("b's gamma = %v after changing a's, want 0.25", got)
	}

	small := NewParams(1)
	defer small.Free()
	small.Const("gamma", 1)
	small.Const("other", 1, 2)
	if err := small.CopyFrom(a); err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Errorf("CopyFrom from a set without %q: error %v", "other", err)
	}
}
