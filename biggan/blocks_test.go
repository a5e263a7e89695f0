package biggan

import (
	"fmt"
	"math"
	"testing"

	"ganshift/nn"
	"ganshift/torch"
)

// These tests recompute single blocks from biggan-format.md's description,
// out of layers whose own arithmetic the nn tests check.

// storedStats fills prefix.stored_mean and prefix.stored_var with
// distinct values and returns them.
func storedStats(t *testing.T, p *nn.Params, prefix string, ch int) (mean, vars []float32) {
	t.Helper()
	mean, vars = make([]float32, ch), make([]float32, ch)
	for i := range ch {
		mean[i] = 0.3 - 0.1*float32(i%5)
		vars[i] = 0.5 + 0.25*float32(i%4)
	}
	set(t, p, prefix+".stored_mean", mean)
	set(t, p, prefix+".stored_var", vars)
	return mean, vars
}

func TestCondBN(t *testing.T) {
	cfg := tiny(32, 0)
	cfg.BNEps = 0.01 // large enough to tell eps from none
	p := nn.NewParams(3)
	t.Cleanup(p.Free)
	const b, ch, hw, cond = 2, 6, 4, 5
	bn := newCondBN(p, "bn", ch, cond, cfg)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	mean, vars := storedStats(t, p, "bn", ch)
	x, c := normals(1, b*ch*hw), normals(2, b*cond)

	s := newScope(t)
	s.SetGrad(false)
	ct := s.FromFloat32(c, b, cond)
	got := values(t, s, bn.forward(s, s.FromFloat32(x, b, ch, 2, 2), ct, false))
	gain := values(t, s, bn.gain.Forward(s, ct, false))
	bias := values(t, s, bn.bias.Forward(s, ct, false))
	for i := range b {
		for k := range ch {
			for j := range hw {
				at := (i*ch+k)*hw + j
				norm := (float64(x[at]) - float64(mean[k])) / math.Sqrt(float64(vars[k])+0.01)
				want := norm*(1+float64(gain[i*ch+k])) + float64(bias[i*ch+k])
				if math.Abs(float64(got[at])-want) > 1e-5*(1+math.Abs(want)) {
					t.Fatalf("sample %d channel %d: got %v, want %v", i, k, got[at], want)
				}
			}
		}
	}
}

func TestOutputBN(t *testing.T) {
	cfg := tiny(32, 0)
	g := newG(t, cfg, 1)
	ch := int(g.Params.Get("output_layer.0.gain").Numel())
	mean, vars := storedStats(t, g.Params, "output_layer.0", ch)
	gain, bias := normals(4, ch), normals(5, ch)
	set(t, g.Params, "output_layer.0.gain", gain)
	set(t, g.Params, "output_layer.0.bias", bias)
	x := normals(6, ch*9)

	s := newScope(t)
	s.SetGrad(false)
	got := values(t, s, g.outBN.forward(s, s.FromFloat32(x, 1, int64(ch), 3, 3), false))
	for k := range ch {
		for j := range 9 {
			norm := (float64(x[k*9+j]) - float64(mean[k])) / math.Sqrt(float64(vars[k])+1e-5)
			want := norm*float64(gain[k]) + float64(bias[k]) // gain as is, not 1+gain
			if math.Abs(float64(got[k*9+j])-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("channel %d: got %v, want %v", k, got[k*9+j], want)
			}
		}
	}
}

func TestGBlock(t *testing.T) {
	cfg := tiny(32, 0)
	g := newG(t, cfg, 1)
	blk := g.blocks[1]
	in := int(blk.conv1.W.Shape()[1])
	out := int(blk.conv1.W.Shape()[0])
	storedStats(t, g.Params, "blocks.1.0.bn1", in)
	storedStats(t, g.Params, "blocks.1.0.bn2", out)
	const b, hw = 2, 3
	cond := cfg.SharedDim + cfg.ZChunk()

	s := newScope(t)
	s.SetGrad(false)
	x := s.FromFloat32(normals(1, b*in*hw*hw), b, int64(in), hw, hw)
	c := s.FromFloat32(normals(2, b*cond), b, int64(cond))
	got := blk.forward(s, x, c, false)
	up := func(t *torch.Tensor) *torch.Tensor { return s.UpsampleNearest(t, 2*hw, 2*hw) }
	h := blk.bn1.forward(s, x, c, false)
	h = blk.conv1.Forward(s, up(s.Relu(h)), false)
	h = blk.conv2.Forward(s, s.Relu(blk.bn2.forward(s, h, c, false)), false)
	want := s.Add(h, blk.convSC.Forward(s, up(x), false))
	if diff := maxAbsDiff(values(t, s, got), values(t, s, want)); diff > 1e-5 {
		t.Errorf("G block differs by %g from cbn1 → ReLU → up → conv1 → cbn2 → ReLU → conv2, + conv_sc(up(x))", diff)
	}
	if shape := got.Shape(); shape[2] != 2*hw || shape[3] != 2*hw || shape[1] != int64(out) {
		t.Errorf("G block output shape %v", shape)
	}
}

func TestDBlocks(t *testing.T) {
	cfg := tiny(32, 0)
	d := newD(t, cfg, 1)
	s := newScope(t)
	s.SetGrad(false)
	pool := func(x *torch.Tensor) *torch.Tensor { return s.AvgPool2d(x, 2, 2) }
	tests := []struct {
		i    int
		want func(b dBlock, x *torch.Tensor) *torch.Tensor
	}{
		// Block 0: no pre-activation; the shortcut pools, then convolves.
		{0, func(b dBlock, x *torch.Tensor) *torch.Tensor {
			h := pool(b.conv2.Forward(s, s.Relu(b.conv1.Forward(s, x, false)), false))
			return s.Add(h, b.convSC.Forward(s, pool(x), false))
		}},
		// Block 1: pre-activation, downsampling; the shortcut convolves, then pools.
		{1, func(b dBlock, x *torch.Tensor) *torch.Tensor {
			h := pool(b.conv2.Forward(s, s.Relu(b.conv1.Forward(s, s.Relu(x), false)), false))
			return s.Add(h, pool(b.convSC.Forward(s, x, false)))
		}},
		// Block 3: pre-activation, same size, identity shortcut.
		{3, func(b dBlock, x *torch.Tensor) *torch.Tensor {
			h := b.conv2.Forward(s, s.Relu(b.conv1.Forward(s, s.Relu(x), false)), false)
			return s.Add(h, x)
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.i), func(t *testing.T) {
			b := d.blocks[tt.i]
			in := b.conv1.W.Shape()[1]
			x := s.FromFloat32(normals(uint64(tt.i), int(2*in*8*8)), 2, in, 8, 8)
			got, want := b.forward(s, x, false), tt.want(b, x)
			if diff := maxAbsDiff(values(t, s, got), values(t, s, want)); diff > 1e-5 {
				t.Errorf("D block %d differs from its description by %g", tt.i, diff)
			}
		})
	}
}

// TestDiscriminatorHead checks the head: h = Σ_{H,W} ReLU(features),
// score = linear(h) + ⟨embed(y), h⟩.
func TestDiscriminatorHead(t *testing.T) {
	cfg := tiny(32, 16)
	d := newD(t, cfg, 1)
	set(t, d.Params, "linear.bias", []float32{0.75})
	const b = 3
	s := newScope(t)
	s.SetGrad(false)
	x := s.FromFloat32(normals(1, b*3*32*32), b, 3, 32, 32)
	y := s.FromInt64([]int64{4, 1, 4}, b)
	got := values(t, s, d.Forward(s, x, y, false))

	h := x
	for i, blk := range d.blocks {
		h = blk.forward(s, h, false)
		if a, ok := d.attn[i]; ok {
			h = a.forward(s, h, false)
		}
	}
	feat := values(t, s, h)
	shape := h.Shape()
	ch, n := int(shape[1]), int(shape[2]*shape[3])
	lin := values(t, s, d.linear.Weight(s, false))
	emb := values(t, s, d.embed.Weight(s, false))
	for i, c := range []int{4, 1, 4} {
		want := 0.75
		for k := range ch {
			var sum float64
			for j := range n {
				sum += max(0, float64(feat[(i*ch+k)*n+j]))
			}
			want += (float64(lin[k]) + float64(emb[c*ch+k])) * sum
		}
		if math.Abs(float64(got[i])-want) > 1e-4*(1+math.Abs(want)) {
			t.Errorf("score %d = %v, want %v", i, got[i], want)
		}
	}
}

// TestGeneratorComposition recomputes G from its parts: stem linear on z
// chunk 0 reshaped channel-major to (B, C, 4, 4), blocks conditioned on
// [embedding, chunk i+1], attention, then output BN → ReLU → conv → tanh.
func TestGeneratorComposition(t *testing.T) {
	cfg := tiny(32, 16)
	g := newG(t, cfg, 1)
	set(t, g.Params, "blocks.1.1.gamma", []float32{0.4})
	ch := int(g.Params.Get("output_layer.0.gain").Numel())
	storedStats(t, g.Params, "output_layer.0", ch)
	set(t, g.Params, "output_layer.0.bias", normals(3, ch))
	const b = 2
	zv, ev := normals(1, b*cfg.DimZ), embedding(t, g, 0, 2)
	got := gen(t, g, zv, ev, false)

	s := newScope(t)
	s.SetGrad(false)
	z := s.FromFloat32(zv, b, int64(cfg.DimZ))
	e := s.FromFloat32(ev, b, int64(cfg.SharedDim))
	chunk := int64(cfg.ZChunk())
	stem := values(t, s, g.linear.Forward(s, s.Narrow(z, 1, 0, chunk), false))
	h := s.FromFloat32(stem, b, int64(len(stem)/b/16), 4, 4)
	for i, blk := range g.blocks {
		h = blk.forward(s, h, s.Cat(1, e, s.Narrow(z, 1, int64(i+1)*chunk, chunk)), false)
		if i == 1 {
			h = g.attn[1].forward(s, h, false)
		}
	}
	h = s.Relu(g.outBN.forward(s, h, false))
	want := values(t, s, s.Tanh(g.outConv.Forward(s, h, false)))
	if diff := maxAbsDiff(got, want); diff > 1e-5 {
		t.Errorf("G differs by %g from its parts composed", diff)
	}
}
