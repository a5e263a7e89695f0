// Package biggan is the class-conditional BigGAN of BigGAN-PyTorch: a
// Generator with hierarchical z, a shared class embedding and conditional
// batch norm, and a projection Discriminator, both with spectral norm and
// self-attention, for resolutions 32 to 256 and any width and class count.
// Tensor names equal the keys of that code's state dicts.
package biggan

import (
	"fmt"
	"slices"
)

// Config is a BigGAN architecture. The zero values of the eps fields mean
// the released model's values.
type Config struct {
	Resolution int      `json:"resolution"` // 32, 64, 128 or 256
	GCh        int      `json:"g_ch"`       // G width multiplier (96 in the release)
	DCh        int      `json:"d_ch"`       // D width multiplier (96 in the release)
	DimZ       int      `json:"dim_z"`      // latent size, split evenly over the linear and each block
	SharedDim  int      `json:"shared_dim"` // class embedding size (128 in the release)
	NClasses   int      `json:"n_classes"`  // number of classes
	GAttn      []int    `json:"g_attn"`     // resolutions after whose G block attention sits
	DAttn      []int    `json:"d_attn"`     // resolutions after whose D block attention sits
	SNEps      float64  `json:"sn_eps"`     // spectral norm eps (1e-6)
	BNEps      float64  `json:"bn_eps"`     // batch norm eps (1e-5)
	ClassNames []string `json:"class_names,omitempty"`
}

// Released is the 128×128 BigGAN whose weights BigGAN-PyTorch published.
func Released() Config {
	return Config{Resolution: 128, GCh: 96, DCh: 96, DimZ: 120, SharedDim: 128, NClasses: 1000,
		GAttn: []int{64}, DAttn: []int{64}, SNEps: 1e-6, BNEps: 1e-5}
}

// gArch gives, per resolution, the G blocks' input and output channel
// multipliers; every G block doubles the resolution from 4×4.
var gArch = map[int][2][]int{
	32:  {{4, 4, 4}, {4, 4, 4}},
	64:  {{16, 16, 8, 4}, {16, 8, 4, 2}},
	128: {{16, 16, 8, 4, 2}, {16, 8, 4, 2, 1}},
	256: {{16, 16, 8, 8, 4, 2}, {16, 8, 8, 4, 2, 1}},
}

// dArch gives, per resolution, the D blocks' input and output multipliers
// (input 0 means the 3 image channels) and whether each block halves the
// resolution.
type dBlocks struct {
	in, out []int
	down    []bool
}

var dArch = map[int]dBlocks{
	32:  {[]int{0, 4, 4, 4}, []int{4, 4, 4, 4}, []bool{true, true, false, false}},
	64:  {[]int{0, 1, 2, 4, 8}, []int{1, 2, 4, 8, 16}, []bool{true, true, true, true, false}},
	128: {[]int{0, 1, 2, 4, 8, 16}, []int{1, 2, 4, 8, 16, 16}, []bool{true, true, true, true, true, false}},
	256: {[]int{0, 1, 2, 4, 8, 8, 16}, []int{1, 2, 4, 8, 8, 16, 16}, []bool{true, true, true, true, true, true, false}},
}

// withDefaults fills the eps fields.
func (c Config) withDefaults() Config {
	if c.SNEps == 0 {
		c.SNEps = 1e-6
	}
	if c.BNEps == 0 {
		c.BNEps = 1e-5
	}
	return c
}

// Validate says what, if anything, makes c unbuildable.
func (c Config) Validate() error {
	if _, ok := gArch[c.Resolution]; !ok {
		return fmt.Errorf("biggan: resolution %d not supported (want 32, 64, 128 or 256)", c.Resolution)
	}
	slots := c.ZChunks()
	switch {
	case c.GCh <= 0 || c.DCh <= 0:
		return fmt.Errorf("biggan: widths must be positive (g_ch %d, d_ch %d)", c.GCh, c.DCh)
	case c.NClasses <= 0:
		return fmt.Errorf("biggan: n_classes must be positive, not %d", c.NClasses)
	case c.SharedDim <= 0:
		return fmt.Errorf("biggan: shared_dim must be positive, not %d", c.SharedDim)
	case c.DimZ <= 0 || c.DimZ%slots != 0:
		return fmt.Errorf("biggan: dim_z %d must be a positive multiple of %d (one chunk for the linear and one per block)", c.DimZ, slots)
	case len(c.ClassNames) != 0 && len(c.ClassNames) != c.NClasses:
		return fmt.Errorf("biggan: %d class names for %d classes", len(c.ClassNames), c.NClasses)
	}
	if err := checkAttn("G", c.GAttn, c.gResolutions(), gArch[c.Resolution][1], c.GCh); err != nil {
		return err
	}
	return checkAttn("D", c.DAttn, c.dResolutions(), dArch[c.Resolution].out, c.DCh)
}

// checkAttn checks that some block outputs each attention resolution and
// that every such block is wide enough for attention's C/8 channels.
func checkAttn(net string, attn, res, mult []int, ch int) error {
	for _, r := range attn {
		if !slices.Contains(res, r) {
			return fmt.Errorf("biggan: no %s block outputs resolution %d for attention", net, r)
		}
		for i, ri := range res {
			if ri == r && mult[i]*ch < 8 {
				return fmt.Errorf("biggan: %s attention at resolution %d needs at least 8 channels, the block has %d", net, r, mult[i]*ch)
			}
		}
	}
	return nil
}

// ZChunks is the number of pieces z is split into.
func (c Config) ZChunks() int { return len(gArch[c.Resolution][0]) + 1 }

// ZChunk is the size of each piece of z.
func (c Config) ZChunk() int { return c.DimZ / c.ZChunks() }

func (c Config) gResolutions() []int {
	var rs []int
	for i := range gArch[c.Resolution][0] {
		rs = append(rs, 8<<i)
	}
	return rs
}

func (c Config) dResolutions() []int {
	var rs []int
	r := c.Resolution
	for _, down := range dArch[c.Resolution].down {
		if down {
			r /= 2
		}
		rs = append(rs, r)
	}
	return rs
}
