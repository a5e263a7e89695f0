package nn

import (
	"ganshift/torch"
)

// SN is the spectral norm of one weight as BigGAN-PyTorch computes it: a
// stored left singular vector u (1, out) refined by one power iteration on
// every forward pass, eval mode included, and the weight divided by the
// resulting sigma. u and the logged sigma sv are written back only when
// training.
type SN struct {
	W, U, SV *torch.Tensor
	Eps      float64

	// frozen caches W/sigma for eval-mode forwards (see Freeze); shared by
	// copies of the SN value.
	frozen *frozenSN
}

// frozenSN is a cached eval-mode weight and the versions of W and U it was
// computed from.
type frozenSN struct {
	w      *torch.Tensor
	wv, uv int64
}

// newSN registers prefix.weight (drawn with fan-in scaling), prefix.u0 and
// prefix.sv0.
func newSN(p *Params, prefix string, eps float64, shape ...int64) SN {
	return SN{
		W:   p.Fan(prefix+".weight", shape...),
		U:   p.UnitBuffer(prefix+".u0", shape[0]),
		SV:  p.Buffer(prefix+".sv0", 1, 1),
		Eps: eps,
	}
}

// Weight returns W/sigma. Gradients flow through W and sigma, not through
// the power iteration, as in the reference code.
func (sn SN) Weight(s *torch.Scope, train bool) *torch.Tensor {
	if !train && sn.Current() {
		return sn.frozen.w
	}
	shape := sn.W.Shape()
	w := s.Reshape(sn.W, shape[0], -1)

	was := s.SetGrad(false)
	v := normalize(s, s.Matmul(sn.U, w), sn.Eps)
	u := normalize(s, s.Matmul(v, s.Permute(w, 1, 0)), sn.Eps)
	s.SetGrad(was)

	// sigma = v·Wᵀ·uᵀ, a (1, 1) tensor that keeps W's gradient.
	sigma := s.Matmul(s.Matmul(v, s.Permute(w, 1, 0)), s.Permute(u, 1, 0))
	if train {
		s.SetGrad(false)
		if s.Err() == nil {
			s.Fail(sn.U.CopyFrom(u))
			s.Fail(sn.SV.CopyFrom(s.Reshape(sigma, 1)))
		}
		s.SetGrad(was)
	}
	return s.Div(sn.W, sigma)
}

// Freeze computes the eval-mode weight W/sigma once, exactly as Weight
// does (one power iteration from the stored u, which eval mode never
// updates), and caches it as a plain tensor outside autograd. Later
// eval-mode calls of Weight return the cache while W and u are unchanged
// (their in-place version counters tell), so a frozen network's forward
// skips the power iteration and records nothing for its parameters.
// Training, loading or an optimizer step changes W or u and Weight
// recomputes as before; Freeze again to refresh the cache. The stored
// tensors are untouched.
func (sn *SN) Freeze() error {
	sn.Unfreeze()
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	w := sn.Weight(s, false)
	if err := s.Err(); err != nil {
		return err
	}
	sn.frozen = &frozenSN{w: s.Keep(w), wv: sn.W.Version(), uv: sn.U.Version()}
	return nil
}

// Unfreeze drops the cached weight.
func (sn *SN) Unfreeze() {
	if sn.frozen != nil {
		sn.frozen.w.Free()
		sn.frozen = nil
	}
}

// Current reports whether sn holds a cached eval-mode weight computed from
// the present W and u.
func (sn SN) Current() bool {
	f := sn.frozen
	return f != nil && f.w.Valid() && f.wv == sn.W.Version() && f.uv == sn.U.Version()
}

// normalize divides the row vector x by max(‖x‖, eps).
func normalize(s *torch.Scope, x *torch.Tensor, eps float64) *torch.Tensor {
	norm := s.ClampMin(s.Sqrt(s.Sum(s.Square(x), true, 1)), eps)
	return s.Div(x, norm)
}

// SNConv is a spectrally normalised 2-D convolution with "same" padding.
type SNConv struct {
	SN
	B *torch.Tensor
}

// NewSNConv registers prefix.{weight,bias,u0,sv0} for a k×k convolution;
// bias false leaves the bias out (attention's 1×1 convolutions).
func NewSNConv(p *Params, prefix string, in, out, k int64, bias bool, eps float64) *SNConv {
	c := &SNConv{SN: newSN(p, prefix, eps, out, in, k, k)}
	if bias {
		c.B = p.Const(prefix+".bias", 0, out)
	}
	return c
}

// Forward convolves x (N, in, H, W) to (N, out, H, W).
func (c *SNConv) Forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	k := c.W.Shape()[2]
	return s.Conv2d(x, c.Weight(s, train), c.B, 1, k/2, 1)
}

// SNLinear is a spectrally normalised linear layer.
type SNLinear struct {
	SN
	B *torch.Tensor
}

// NewSNLinear registers prefix.{weight,bias,u0,sv0}.
func NewSNLinear(p *Params, prefix string, in, out int64, bias bool, eps float64) *SNLinear {
	l := &SNLinear{SN: newSN(p, prefix, eps, out, in)}
	if bias {
		l.B = p.Const(prefix+".bias", 0, out)
	}
	return l
}

// Forward maps (N, in) to (N, out).
func (l *SNLinear) Forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	return s.Linear(x, l.Weight(s, train), l.B)
}

// SNEmbedding is a spectrally normalised embedding table (rows = classes).
type SNEmbedding struct{ SN }

// NewSNEmbedding registers prefix.{weight,u0,sv0} for n rows of dim values.
func NewSNEmbedding(p *Params, prefix string, n, dim int64, eps float64) *SNEmbedding {
	return &SNEmbedding{SN: newSN(p, prefix, eps, n, dim)}
}

// Forward looks up the rows of the int64 class tensor y.
func (e *SNEmbedding) Forward(s *torch.Scope, y *torch.Tensor, train bool) *torch.Tensor {
	return s.Embedding(e.Weight(s, train), y)
}
