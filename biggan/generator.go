package biggan

import (
	"fmt"
	"math"
	"slices"

	"ganshift/nn"
	"ganshift/torch"
)

// Generator is BigGAN's G. It takes z and an already embedded class vector,
// so a blend of two embedding rows is a valid input.
type Generator struct {
	Cfg    Config
	Params *nn.Params

	shared  *torch.Tensor // shared.weight (n_classes, shared_dim), no spectral norm
	linear  *nn.SNLinear
	blocks  []gBlock
	attn    map[int]*attention
	outBN   batchNorm
	outConv *nn.SNConv
}

type gBlock struct {
	bn1, bn2             condBN
	conv1, conv2, convSC *nn.SNConv
}

// NewGenerator builds G with weights drawn from seed.
func NewGenerator(cfg Config, seed uint64) (*Generator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := nn.NewParams(seed)
	g := &Generator{Cfg: cfg, Params: p, attn: map[int]*attention{}}
	arch := gArch[cfg.Resolution]
	ch := int64(cfg.GCh)
	condDim := int64(cfg.SharedDim + cfg.ZChunk())
	eps := cfg.SNEps

	// Rows of unit expected norm, like the reference's orthogonal init.
	g.shared = p.Normal("shared.weight", 1/math.Sqrt(float64(cfg.SharedDim)), int64(cfg.NClasses), int64(cfg.SharedDim))
	g.linear = nn.NewSNLinear(p, "linear", int64(cfg.ZChunk()), int64(arch[0][0])*ch*16, true, eps)
	for i := range arch[0] {
		in, out := int64(arch[0][i])*ch, int64(arch[1][i])*ch
		pre := fmt.Sprintf("blocks.%d.0.", i)
		g.blocks = append(g.blocks, gBlock{
			// Registration order follows the reference state dict.
			conv1:  nn.NewSNConv(p, pre+"conv1", in, out, 3, true, eps),
			conv2:  nn.NewSNConv(p, pre+"conv2", out, out, 3, true, eps),
			convSC: nn.NewSNConv(p, pre+"conv_sc", in, out, 1, true, eps),
			bn1:    newCondBN(p, pre+"bn1", in, condDim, cfg),
			bn2:    newCondBN(p, pre+"bn2", out, condDim, cfg),
		})
		if slices.Contains(cfg.GAttn, 8<<i) {
			g.attn[i] = newAttention(p, fmt.Sprintf("blocks.%d.1", i), out, eps)
		}
	}
	last := int64(arch[1][len(arch[1])-1]) * ch
	g.outBN = batchNorm{
		gain: p.Const("output_layer.0.gain", 1, last),
		bias: p.Const("output_layer.0.bias", 0, last),
		mean: p.Buffer("output_layer.0.stored_mean", 0, last),
		vars: p.Buffer("output_layer.0.stored_var", 1, last),
		eps:  cfg.BNEps,
	}
	g.outConv = nn.NewSNConv(p, "output_layer.2", last, 3, 3, true, eps)
	if err := p.Err(); err != nil {
		p.Free()
		return nil, err
	}
	nn.ReleaseHostMemory()
	return g, nil
}

// Free releases G's tensors.
func (g *Generator) Free() { g.Params.Free() }

// Embed returns the shared class embeddings of the int64 classes y (B).
func (g *Generator) Embed(s *torch.Scope, y *torch.Tensor) *torch.Tensor {
	return s.Embedding(g.shared, y)
}

// Forward maps z (B, dim_z) and embedded classes e (B, shared_dim) to
// images (B, 3, R, R) in [-1, 1]. train selects batch statistics (and
// updates the stored ones and the spectral-norm vectors); otherwise the
// stored statistics are used.
func (g *Generator) Forward(s *torch.Scope, z, e *torch.Tensor, train bool) *torch.Tensor {
	chunk := int64(g.Cfg.ZChunk())
	b := z.Shape()[0]

	h := g.linear.Forward(s, s.Narrow(z, 1, 0, chunk), train)
	h = s.Reshape(h, b, -1, 4, 4)
	// Channels innermost from here on (convolutions, batch norms and
	// upsampling keep the layout): oneDNN then convolves the activations
	// as they are instead of reordering them for every call.
	h = s.ChannelsLast(h)
	for i, blk := range g.blocks {
		// Each block is conditioned on [embedding, its own z chunk], embedding first.
		// Each block's temporaries go with a child scope, so only what
		// autograd saved outlives the block.
		bs := s.Child()
		c := bs.Cat(1, e, bs.Narrow(z, 1, int64(i+1)*chunk, chunk))
		h = bs.Return(s, blk.forward(bs, h, c, train))
		if a, ok := g.attn[i]; ok {
			as := s.Child()
			h = as.Return(s, a.forward(as, h, train))
		}
	}
	h = s.Relu(g.outBN.forward(s, h, train))
	return s.Tanh(g.outConv.Forward(s, h, train))
}

// Sample is Forward on the embeddings of classes y.
func (g *Generator) Sample(s *torch.Scope, z, y *torch.Tensor, train bool) *torch.Tensor {
	return g.Forward(s, z, g.Embed(s, y), train)
}

func (b gBlock) forward(s *torch.Scope, x, c *torch.Tensor, train bool) *torch.Tensor {
	shape := x.Shape()
	up := func(t *torch.Tensor) *torch.Tensor {
		return s.UpsampleNearest(t, shape[2]*2, shape[3]*2)
	}

	h := b.bn1.forward(s, x, c, train)
	h = freeAfter(s.Relu(h), h)
	h = freeAfter(up(h), h)
	h = freeAfter(b.conv1.Forward(s, h, train), h)
	h = freeAfter(b.bn2.forward(s, h, c, train), h)
	h = freeAfter(s.Relu(h), h)
	h = freeAfter(b.conv2.Forward(s, h, train), h)
	sc := up(x)
	sc = freeAfter(b.convSC.Forward(s, sc, train), sc)
	out := s.Add(h, sc)
	h.Free()
	sc.Free()
	return out
}

// freeAfter frees prev, an intermediate that next was computed from, and
// returns next. The last blocks' activations are hundreds of MB, so each
// is freed as soon as the next op has read it; autograd keeps its own
// reference to whatever the backward pass needs.
func freeAfter(next, prev *torch.Tensor) *torch.Tensor {
	prev.Free()
	return next
}

// batchNorm is a batch norm with stored statistics and an optional affine
// part used as is (BigGAN's output-layer bn: gain, not 1+gain).
type batchNorm struct {
	gain, bias, mean, vars *torch.Tensor
	eps                    float64
}

func (bn batchNorm) forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	return s.BatchNorm(x, bn.gain, bn.bias, bn.mean, bn.vars, train, 0.1, bn.eps)
}

// condBN is BigGAN's class-conditional batch norm: normalise without affine
// parameters, then scale by 1+gain(c) and shift by bias(c), where gain and
// bias are spectrally normalised linears of the conditioning vector.
type condBN struct {
	norm       batchNorm
	gain, bias *nn.SNLinear
}

func newCondBN(p *nn.Params, prefix string, ch, condDim int64, cfg Config) condBN {
	return condBN{
		norm: batchNorm{
			mean: p.Buffer(prefix+".stored_mean", 0, ch),
			vars: p.Buffer(prefix+".stored_var", 1, ch),
			eps:  cfg.BNEps,
		},
		gain: nn.NewSNLinear(p, prefix+".gain", condDim, ch, false, cfg.SNEps),
		bias: nn.NewSNLinear(p, prefix+".bias", condDim, ch, false, cfg.SNEps),
	}
}

func (bn condBN) forward(s *torch.Scope, x, c *torch.Tensor, train bool) *torch.Tensor {
	b := c.Shape()[0]
	gain := s.Reshape(s.AddScalar(bn.gain.Forward(s, c, train), 1), b, -1, 1, 1)
	bias := s.Reshape(bn.bias.Forward(s, c, train), b, -1, 1, 1)
	return s.Add(s.Mul(bn.norm.forward(s, x, train), gain), bias)
}

// attention is SAGAN self-attention as BigGAN uses it: keys and values
// max-pooled 2×2, output added back scaled by a learned gamma.
type attention struct {
	theta, phi, g, o *nn.SNConv
	gamma            *torch.Tensor
}

func newAttention(p *nn.Params, prefix string, ch int64, eps float64) *attention {
	return &attention{
		theta: nn.NewSNConv(p, prefix+".theta", ch, ch/8, 1, false, eps),
		phi:   nn.NewSNConv(p, prefix+".phi", ch, ch/8, 1, false, eps),
		g:     nn.NewSNConv(p, prefix+".g", ch, ch/2, 1, false, eps),
		o:     nn.NewSNConv(p, prefix+".o", ch/2, ch, 1, false, eps),
		gamma: p.Const(prefix+".gamma", 0),
	}
}

// AttentionMatmul (a setting for comparisons and benchmarks, false by
// default) makes attention use batched matrix products, as the
// reference code does, instead of the grouped 1×1 convolutions of the same
// sums. libtorch runs matrix products on the system BLAS, which on Debian
// is the unoptimised reference BLAS unless an optimised one is installed,
// and convolutions on oneDNN: at 64×64 attention the convolutions are
// about 2× faster on this machine's CPUs (G and D forward and backward,
// width 32, batch 9). The two differ by float rounding (tests compare
// them). Tensors on a GPU always take the matrix products (cuBLAS).
var AttentionMatmul = false

func (a *attention) forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	if AttentionMatmul || x.Device() != torch.CPU {
		return a.forwardMatmul(s, x, train)
	}
	shape := x.Shape()
	b, ch, h, w := shape[0], shape[1], shape[2], shape[3]
	n := h * w / 4 // pooled key positions

	theta := a.theta.Forward(s, x, train)                   // (B, C/8, H, W)
	phi := s.MaxPool2d(a.phi.Forward(s, x, train), 2, 2, 0) // (B, C/8, H/2, W/2)
	g := s.MaxPool2d(a.g.Forward(s, x, train), 2, 2, 0)     // (B, C/2, H/2, W/2)

	// logits[b, j, i] = Σ_c phi[b, c, j]·theta[b, c, i]: a 1×1 convolution
	// of theta by the per-sample weights phi[b]ᵀ, one group per sample.
	pw := s.Reshape(s.Permute(s.Reshape(phi, b, ch/8, n), 0, 2, 1), b*n, ch/8, 1, 1)
	logits := s.Conv2d(s.Reshape(theta, 1, b*ch/8, h, w), pw, nil, 1, 0, b)
	// beta: each query position's weights over the keys (dim 1).
	beta := s.Softmax(s.Reshape(logits, b, n, h, w), 1)
	// o[b, c, i] = Σ_j g[b, c, j]·beta[b, j, i], likewise.
	gw := s.Reshape(g, b*ch/2, n, 1, 1)
	o := s.Reshape(s.Conv2d(s.Reshape(beta, 1, b*n, h, w), gw, nil, 1, 0, b), b, ch/2, h, w)
	return s.Add(x, s.Mul(a.gamma, a.o.Forward(s, o, train)))
}

// forwardMatmul is attention with batched matrix products.
func (a *attention) forwardMatmul(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	shape := x.Shape()
	b, ch, h, w := shape[0], shape[1], shape[2], shape[3]

	theta := s.Reshape(a.theta.Forward(s, x, train), b, ch/8, h*w)
	phi := s.Reshape(s.MaxPool2d(a.phi.Forward(s, x, train), 2, 2, 0), b, ch/8, h*w/4)
	g := s.Reshape(s.MaxPool2d(a.g.Forward(s, x, train), 2, 2, 0), b, ch/2, h*w/4)

	// beta (B, HW, HW/4): each query position's weights over the pooled keys.
	beta := s.Softmax(s.Matmul(s.Permute(theta, 0, 2, 1), phi), -1)
	o := s.Reshape(s.Matmul(g, s.Permute(beta, 0, 2, 1)), b, ch/2, h, w)
	return s.Add(x, s.Mul(a.gamma, a.o.Forward(s, o, train)))
}
