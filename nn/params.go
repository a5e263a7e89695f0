// Package nn holds named parameters and the layers ganshift's networks are
// built from, with the semantics of BigGAN-PyTorch: spectrally normalised
// convolutions, linears and embeddings with a stored singular vector, and
// batch norms with stored statistics.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"runtime/debug"
	"slices"

	"ganshift/checkpoint"
	"ganshift/torch"
)

// Var is one named tensor of a network: a parameter that training may update
// or a buffer (stored statistics, singular vectors) that it may not.
type Var struct {
	Name   string
	T      *torch.Tensor
	Buffer bool
}

// Params is the ordered set of a network's tensors, keyed by the names of
// the PyTorch state dict they correspond to.
type Params struct {
	vars  []*Var
	index map[string]*Var
	rng   *rand.Rand
	err   error
}

// NewParams starts an empty set whose initial values come from seed.
func NewParams(seed uint64) *Params {
	return &Params{index: map[string]*Var{}, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// Err is the first error met while adding tensors.
func (p *Params) Err() error { return p.err }

// add registers a tensor filled from init (nil means zeros).
func (p *Params) add(name string, buffer bool, init []float32, shape ...int64) *torch.Tensor {
	if p.err != nil {
		return &torch.Tensor{}
	}
	if _, dup := p.index[name]; dup {
		p.err = fmt.Errorf("nn: tensor %q registered twice", name)
		return &torch.Tensor{}
	}
	if init == nil {
		init = make([]float32, numel(shape))
	}
	t, err := torch.FromFloat32(init, shape...)
	if err != nil {
		p.err = fmt.Errorf("nn: %s: %w", name, err)
		return &torch.Tensor{}
	}
	v := &Var{Name: name, T: t, Buffer: buffer}
	p.vars = append(p.vars, v)
	p.index[name] = v
	return t
}

// Normal adds a parameter drawn from N(0, std²).
func (p *Params) Normal(name string, std float64, shape ...int64) *torch.Tensor {
	vals := make([]float32, numel(shape))
	for i := range vals {
		vals[i] = float32(p.rng.NormFloat64() * std)
	}
	return p.add(name, false, vals, shape...)
}

// Fan adds a weight drawn from N(0, 1/fan_in), fan_in being the product of
// all but the first dimension.
func (p *Params) Fan(name string, shape ...int64) *torch.Tensor {
	fan := numel(shape[1:])
	return p.Normal(name, 1/math.Sqrt(float64(fan)), shape...)
}

// Const adds a parameter filled with v.
func (p *Params) Const(name string, v float32, shape ...int64) *torch.Tensor {
	return p.add(name, false, filled(numel(shape), v), shape...)
}

// Buffer adds a non-trainable tensor filled with v.
func (p *Params) Buffer(name string, v float32, shape ...int64) *torch.Tensor {
	return p.add(name, true, filled(numel(shape), v), shape...)
}

// UnitBuffer adds a non-trainable random unit row vector (a spectral-norm u).
func (p *Params) UnitBuffer(name string, n int64) *torch.Tensor {
	vals := make([]float32, n)
	var norm float64
	for i := range vals {
		x := p.rng.NormFloat64()
		vals[i] = float32(x)
		norm += x * x
	}
	for i := range vals {
		vals[i] /= float32(math.Sqrt(norm))
	}
	return p.add(name, true, vals, 1, n)
}

func filled(n int64, v float32) []float32 {
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = v
	}
	return vals
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// Vars lists every tensor in registration order.
func (p *Params) Vars() []*Var { return p.vars }

// Get returns the tensor called name, or nil.
func (p *Params) Get(name string) *torch.Tensor {
	if v, ok := p.index[name]; ok {
		return v.T
	}
	return nil
}

// Trainable lists the parameters (not buffers) whose names match any of
// the path.Match patterns; no patterns means all of them.
func (p *Params) Trainable(patterns ...string) ([]*Var, error) {
	var out []*Var
	for _, v := range p.vars {
		if v.Buffer {
			continue
		}
		ok := len(patterns) == 0
		for _, pat := range patterns {
			m, err := path.Match(pat, v.Name)
			if err != nil {
				return nil, fmt.Errorf("nn: pattern %q: %w", pat, err)
			}
			ok = ok || m
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// Count is the number of parameter values and buffer values.
func (p *Params) Count() (params, buffers int64) {
	for _, v := range p.vars {
		if v.Buffer {
			buffers += v.T.Numel()
		} else {
			params += v.T.Numel()
		}
	}
	return params, buffers
}

// SetRequiresGrad turns gradient tracking of the given parameters on and of
// all others off.
func (p *Params) SetRequiresGrad(train []*Var) error {
	for _, v := range p.vars {
		on := slices.Contains(train, v)
		if err := v.T.SetRequiresGrad(on); err != nil {
			return fmt.Errorf("nn: %s: %w", v.Name, err)
		}
	}
	return nil
}

// State copies every tensor to host memory, keyed by name.
func (p *Params) State() (map[string]checkpoint.Tensor, error) {
	out := make(map[string]checkpoint.Tensor, len(p.vars))
	for _, v := range p.vars {
		data, err := v.T.Float32()
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", v.Name, err)
		}
		out[v.Name] = checkpoint.Tensor{Shape: v.T.Shape(), Data: data}
	}
	return out, nil
}

// Load overwrites every tensor from state. It is strict, as an importer
// should be: a missing key, an unexpected key or a shape that does not fit
// is an error naming the key; file names the source in messages. Nothing
// is changed unless everything fits.
func (p *Params) Load(state map[string]checkpoint.Tensor, file string) error {
	for _, v := range p.vars {
		t, ok := state[v.Name]
		if !ok {
			return fmt.Errorf("%s: missing tensor %q (shape %v)", file, v.Name, v.T.Shape())
		}
		if want := v.T.Shape(); !slices.Equal(t.Shape, want) {
			return fmt.Errorf("%s: tensor %q has shape %v, the model needs %v", file, v.Name, t.Shape, want)
		}
		if n := numel(t.Shape); int64(len(t.Data)) != n {
			return fmt.Errorf("%s: tensor %q has %d values for shape %v (%d)", file, v.Name, len(t.Data), t.Shape, n)
		}
	}
	for _, k := range sortedKeys(state) {
		if _, ok := p.index[k]; !ok {
			return fmt.Errorf("%s: unexpected tensor %q (shape %v) that this model does not have", file, k, state[k].Shape)
		}
	}
	for _, v := range p.vars {
		t := state[v.Name]
		src, err := torch.FromFloat32(t.Data, t.Shape...)
		if err != nil {
			return fmt.Errorf("%s: tensor %q: %w", file, v.Name, err)
		}
		err = v.T.CopyFrom(src)
		src.Free()
		if err != nil {
			return fmt.Errorf("%s: tensor %q: %w", file, v.Name, err)
		}
	}
	ReleaseHostMemory()
	return nil
}

// CopyFrom overwrites p's tensors with q's (same names and shapes).
func (p *Params) CopyFrom(q *Params) error {
	for _, v := range p.vars {
		src := q.Get(v.Name)
		if src == nil {
			return fmt.Errorf("nn: copy: source has no %q", v.Name)
		}
		if err := v.T.CopyFrom(src); err != nil {
			return fmt.Errorf("nn: copy %s: %w", v.Name, err)
		}
	}
	return nil
}

// ReleaseHostMemory hands the Go heap's garbage back to the operating
// system. Networks are built from Go-side copies (random initial values,
// decoded files) that are garbage once they sit in libtorch; returning them
// before a forward pass keeps them out of the process's peak memory.
func ReleaseHostMemory() { debug.FreeOSMemory() }

// Free releases every tensor.
func (p *Params) Free() {
	for _, v := range p.vars {
		v.T.Free()
	}
}

func sortedKeys(m map[string]checkpoint.Tensor) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
