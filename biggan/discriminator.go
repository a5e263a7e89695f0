package biggan

import (
	"fmt"
	"slices"

	"ganshift/nn"
	"ganshift/torch"
)

// Discriminator is BigGAN's projection D: residual blocks, a sum over
// space, then linear(h) + ⟨embed(y), h⟩. Higher scores mean more real.
type Discriminator struct {
	Cfg    Config
	Params *nn.Params

	blocks []dBlock
	attn   map[int]*attention
	linear *nn.SNLinear
	embed  *nn.SNEmbedding
}

type dBlock struct {
	conv1, conv2, convSC *nn.SNConv // convSC is nil when the shortcut is the identity
	preact, down         bool
}

// NewDiscriminator builds D with weights drawn from seed.
func NewDiscriminator(cfg Config, seed uint64) (*Discriminator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := nn.NewParams(seed)
	d := &Discriminator{Cfg: cfg, Params: p, attn: map[int]*attention{}}
	arch := dArch[cfg.Resolution]
	ch := int64(cfg.DCh)
	res := cfg.dResolutions()

	for i := range arch.in {
		in, out := int64(3), int64(arch.out[i])*ch
		if arch.in[i] != 0 {
			in = int64(arch.in[i]) * ch
		}
		pre := fmt.Sprintf("blocks.%d.0.", i)
		blk := dBlock{
			conv1:  nn.NewSNConv(p, pre+"conv1", in, out, 3, true, cfg.SNEps),
			conv2:  nn.NewSNConv(p, pre+"conv2", out, out, 3, true, cfg.SNEps),
			preact: i > 0,
			down:   arch.down[i],
		}
		if in != out || blk.down {
			blk.convSC = nn.NewSNConv(p, pre+"conv_sc", in, out, 1, true, cfg.SNEps)
		}
		d.blocks = append(d.blocks, blk)
		if slices.Contains(cfg.DAttn, res[i]) {
			d.attn[i] = newAttention(p, fmt.Sprintf("blocks.%d.1", i), out, cfg.SNEps)
		}
	}
	last := int64(arch.out[len(arch.out)-1]) * ch
	d.linear = nn.NewSNLinear(p, "linear", last, 1, true, cfg.SNEps)
	d.embed = nn.NewSNEmbedding(p, "embed", int64(cfg.NClasses), last, cfg.SNEps)
	if err := p.Err(); err != nil {
		p.Free()
		return nil, err
	}
	nn.ReleaseHostMemory()
	return d, nil
}

// Free releases D's tensors and any frozen weights.
func (d *Discriminator) Free() {
	d.Unfreeze()
	d.Params.Free()
}

// sns lists D's spectrally normalised layers.
func (d *Discriminator) sns() []*nn.SN {
	var out []*nn.SN
	for i, b := range d.blocks {
		out = append(out, &b.conv1.SN, &b.conv2.SN)
		if b.convSC != nil {
			out = append(out, &b.convSC.SN)
		}
		if a, ok := d.attn[i]; ok {
			out = append(out, &a.theta.SN, &a.phi.SN, &a.g.SN, &a.o.SN)
		}
	}
	return append(out, &d.linear.SN, &d.embed.SN)
}

// Freeze prepares D for use as a frozen network: every spectrally
// normalised weight W/sigma, which each eval-mode forward would otherwise
// recompute identically, is computed once and cached (nn.SN.Freeze). Eval
// forwards then give the same scores, bit for bit, with less work; a
// training forward, or any change to the weights, falls back to the full
// computation. Parameters, state dicts and saving are unchanged.
func (d *Discriminator) Freeze() error {
	for _, sn := range d.sns() {
		if err := sn.Freeze(); err != nil {
			d.Unfreeze()
			return fmt.Errorf("biggan: freeze D: %w", err)
		}
	}
	return nil
}

// Frozen reports whether every cached weight of Freeze is present and
// current (computed from D's present tensors).
func (d *Discriminator) Frozen() bool {
	for _, sn := range d.sns() {
		if !sn.Current() {
			return false
		}
	}
	return true
}

// Unfreeze drops the cached weights of Freeze.
func (d *Discriminator) Unfreeze() {
	for _, sn := range d.sns() {
		sn.Unfreeze()
	}
}

// Forward scores images x (B, 3, R, R) in [-1, 1] for int64 classes y (B),
// returning raw scores (B, 1). train only decides whether the spectral-norm
// vectors are updated; D has no batch norm.
func (d *Discriminator) Forward(s *torch.Scope, x, y *torch.Tensor, train bool) *torch.Tensor {
	h := s.ChannelsLast(x) // see Generator.Forward
	for i, blk := range d.blocks {
		bs := s.Child()
		h = bs.Return(s, blk.forward(bs, h, train))
		if a, ok := d.attn[i]; ok {
			as := s.Child()
			h = as.Return(s, a.forward(as, h, train))
		}
	}
	h = s.Sum(s.Relu(h), false, 2, 3)
	out := d.linear.Forward(s, h, train)
	proj := s.Sum(s.Mul(d.embed.Forward(s, y, train), h), true, 1)
	return s.Add(out, proj)
}

func (b dBlock) forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	var h *torch.Tensor
	if b.preact {
		r := s.Relu(x)
		h = freeAfter(b.conv1.Forward(s, r, train), r)
	} else {
		h = b.conv1.Forward(s, x, train)
	}
	h = freeAfter(s.Relu(h), h)
	h = freeAfter(b.conv2.Forward(s, h, train), h)
	if b.down {
		h = freeAfter(s.AvgPool2d(h, 2, 2), h)
	}
	sc := b.shortcut(s, x, train)
	out := s.Add(h, sc)
	h.Free()
	if sc != x {
		sc.Free()
	}
	return out
}

// shortcut follows the reference: pre-activation blocks convolve then pool;
// the first block pools then convolves.
func (b dBlock) shortcut(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	if b.preact {
		if b.convSC != nil {
			x = b.convSC.Forward(s, x, train)
		}
		if b.down {
			x = s.AvgPool2d(x, 2, 2)
		}
		return x
	}
	if b.down {
		x = s.AvgPool2d(x, 2, 2)
	}
	if b.convSC != nil {
		x = b.convSC.Forward(s, x, train)
	}
	return x
}

// DHinge is the discriminator's hinge loss:
// mean(relu(1 − real)) + mean(relu(1 + fake)).
func DHinge(s *torch.Scope, real, fake *torch.Tensor) *torch.Tensor {
	lr := s.Mean(s.Relu(s.AddScalar(s.Neg(real), 1)), false)
	lf := s.Mean(s.Relu(s.AddScalar(fake, 1)), false)
	return s.Add(lr, lf)
}

// GHinge is the generator's hinge loss: −mean(D(G(z, y), y)).
func GHinge(s *torch.Scope, fake *torch.Tensor) *torch.Tensor {
	return s.Neg(s.Mean(fake, false))
}
