package biggan

import (
	"testing"
	"time"

	"ganshift/torch"
)

func TestSmoke(t *testing.T) {
	torch.SetThreads(2)
	for _, res := range []int{32, 128} {
		cfg := Config{Resolution: res, GCh: 8, DCh: 8, DimZ: 20 * (len(gArch[res][0]) + 1) / 1, SharedDim: 16, NClasses: 10, GAttn: []int{16}, DAttn: []int{16}}
		if res == 128 {
			cfg.GAttn, cfg.DAttn = []int{64}, []int{64}
		}
		g, err := NewGenerator(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewDiscriminator(cfg, 2)
		if err != nil {
			t.Fatal(err)
		}
		gp, gb := g.Params.Count()
		dp, db := d.Params.Count()
		t.Logf("res %d: G %d+%d (%d vars) D %d+%d (%d vars)", res, gp, gb, len(g.Params.Vars()), dp, db, len(d.Params.Vars()))
		tr, _ := g.Params.Trainable()
		if err := g.Params.SetRequiresGrad(tr); err != nil {
			t.Fatal(err)
		}
		s := torch.NewScope()
		z := s.Full(0.5, 9, int64(cfg.DimZ))
		y := s.FromInt64([]int64{0, 1, 2, 3, 4, 5, 6, 7, 8}, 9)
		start := time.Now()
		x := g.Sample(s, z, y, true)
		sc := d.Forward(s, x, y, false)
		loss := GHinge(s, sc)
		if s.Err() != nil {
			t.Fatal(s.Err())
		}
		if err := loss.Backward(); err != nil {
			t.Fatal(err)
		}
		t.Logf("x %v score %v in %v", x.Shape(), sc.Shape(), time.Since(start))
		s.Close()
	}
	r, _ := NewGenerator(Released(), 1)
	rd, _ := NewDiscriminator(Released(), 1)
	a, b := r.Params.Count()
	c, e := rd.Params.Count()
	t.Logf("released G %d+%d (%d) D %d+%d (%d)", a, b, len(r.Params.Vars()), c, e, len(rd.Params.Vars()))
}
