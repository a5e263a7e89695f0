package biggan

import (
	"fmt"

	"ganshift/torch"
)

// Images draws images (NCHW, [-1, 1]) for latents z (len(y)·dim_z values)
// and classes y with G in eval mode (stored batch-norm statistics), batch
// by batch and without gradients.
func (g *Generator) Images(z []float32, y []int64, batch int) ([]float32, error) {
	e, err := g.embedRows(y)
	if err != nil {
		return nil, err
	}
	return g.FromEmbeddings(z, e, batch)
}

// Blend draws, for each i, the image of z_i with the class embedding
// (1−t_i)·shared[a_i] + t_i·shared[b_i]: the reference code's class
// interpolation, a straight line between two embedding rows.
func (g *Generator) Blend(z []float32, a, b []int64, t []float32, batch int) ([]float32, error) {
	if len(a) != len(b) || len(a) != len(t) {
		return nil, fmt.Errorf("biggan: blend of %d, %d classes with %d weights", len(a), len(b), len(t))
	}
	ea, err := g.embedRows(a)
	if err != nil {
		return nil, err
	}
	eb, err := g.embedRows(b)
	if err != nil {
		return nil, err
	}
	d := g.Cfg.SharedDim
	for i := range t {
		for k := range d {
			ea[i*d+k] = (1-t[i])*ea[i*d+k] + t[i]*eb[i*d+k]
		}
	}
	return g.FromEmbeddings(z, ea, batch)
}

// embedRows copies the shared embedding rows of classes y to Go memory.
func (g *Generator) embedRows(y []int64) ([]float32, error) {
	w, err := g.shared.Float32()
	if err != nil {
		return nil, err
	}
	d := g.Cfg.SharedDim
	out := make([]float32, 0, len(y)*d)
	for _, c := range y {
		if c < 0 || int(c) >= g.Cfg.NClasses {
			return nil, fmt.Errorf("biggan: class %d outside 0..%d", c, g.Cfg.NClasses-1)
		}
		out = append(out, w[int(c)*d:(int(c)+1)*d]...)
	}
	return out, nil
}

// FromEmbeddings draws images for z and already embedded classes e.
func (g *Generator) FromEmbeddings(z, e []float32, batch int) ([]float32, error) {
	dz, d, res := g.Cfg.DimZ, g.Cfg.SharedDim, g.Cfg.Resolution
	n := len(e) / d
	if len(z) != n*dz {
		return nil, fmt.Errorf("biggan: %d latent values for %d images of dim_z %d", len(z), n, dz)
	}
	out := make([]float32, 0, n*3*res*res)
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		pix, err := g.drawBatch(z[start*dz:end*dz], e[start*d:end*d], end-start)
		if err != nil {
			return nil, err
		}
		out = append(out, pix...)
	}
	return out, nil
}

func (g *Generator) drawBatch(z, e []float32, b int) ([]float32, error) {
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	zt := s.FromFloat32(z, int64(b), int64(g.Cfg.DimZ))
	et := s.FromFloat32(e, int64(b), int64(g.Cfg.SharedDim))
	x := g.Forward(s, zt, et, false)
	if err := s.Err(); err != nil {
		return nil, err
	}
	return x.Float32()
}

// Scores returns D's raw scores for images x (NCHW, [-1, 1]) and classes
// y, batch by batch and without gradients.
func (d *Discriminator) Scores(x []float32, y []int64, batch int) ([]float32, error) {
	res := d.Cfg.Resolution
	per := 3 * res * res
	out := make([]float32, 0, len(y))
	for start := 0; start < len(y); start += batch {
		end := min(start+batch, len(y))
		sc, err := d.scoreBatch(x[start*per:end*per], y[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, sc...)
	}
	return out, nil
}

func (d *Discriminator) scoreBatch(x []float32, y []int64) ([]float32, error) {
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	b, res := int64(len(y)), int64(d.Cfg.Resolution)
	sc := d.Forward(s, s.FromFloat32(x, b, 3, res, res), s.FromInt64(y, b), false)
	if err := s.Err(); err != nil {
		return nil, err
	}
	return sc.Float32()
}
