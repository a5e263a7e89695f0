package biggan

import (
	"slices"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := tiny(32, 16)
	tests := []struct {
		name  string
		edit  func(c *Config)
		words []string // the error must contain each; none means no error
	}{
		{"released", func(c *Config) { *c = Released() }, nil},
		{"tiny", func(c *Config) {}, nil},
		{"resolution 256", func(c *Config) { *c = tiny(256, 64) }, nil},
		{"no attention", func(c *Config) { c.GAttn, c.DAttn = nil, nil }, nil},
		{"resolution 48", func(c *Config) { c.Resolution = 48 }, []string{"resolution", "48"}},
		{"resolution 0", func(c *Config) { c.Resolution = 0 }, []string{"resolution", "0"}},
		{"dim_z 17", func(c *Config) { c.DimZ = 17 }, []string{"dim_z", "17", "multiple of 4"}},
		{"dim_z 0", func(c *Config) { c.DimZ = 0 }, []string{"dim_z", "0"}},
		{"G attention at 64", func(c *Config) { c.GAttn = []int{64} }, []string{"G", "64"}},
		{"G attention at 32", func(c *Config) { c.GAttn = []int{16, 32} }, nil},
		{"G attention at 4", func(c *Config) { c.GAttn = []int{4} }, []string{"G", "resolution 4"}},
		{"D attention at 32", func(c *Config) { c.DAttn = []int{32} }, []string{"D", "32"}},
		{"G attention too narrow", func(c *Config) { c.GCh = 1 }, []string{"G attention at resolution 16", "8 channels", "has 4"}},
		{"D attention too narrow", func(c *Config) { c.DAttn = []int{8}; c.DCh = 1 }, []string{"D attention at resolution 8", "has 4"}},
		{"D attention at 4 at 128", func(c *Config) { *c = tiny(128, 0); c.DAttn = []int{4}; c.DCh = 1 }, nil},
		{"D attention at 64 too narrow", func(c *Config) { *c = tiny(128, 64); c.DCh = 4 }, []string{"D attention at resolution 64", "has 4"}},
		{"D attention at 64 wide enough", func(c *Config) { *c = tiny(128, 64) }, nil},
		{"zero classes", func(c *Config) { c.NClasses = 0 }, []string{"n_classes", "0"}},
		{"negative classes", func(c *Config) { c.NClasses = -3 }, []string{"n_classes", "-3"}},
		{"zero G width", func(c *Config) { c.GCh = 0 }, []string{"g_ch 0"}},
		{"negative D width", func(c *Config) { c.DCh = -1 }, []string{"d_ch -1"}},
		{"zero shared dim", func(c *Config) { c.SharedDim = 0 }, []string{"shared_dim", "0"}},
		{"class names", func(c *Config) { c.ClassNames = []string{"a", "b"} }, []string{"2 class names", "5 classes"}},
		{"all class names", func(c *Config) { c.ClassNames = []string{"a", "b", "c", "d", "e"} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			c.GAttn, c.DAttn = slices.Clone(ok.GAttn), slices.Clone(ok.DAttn)
			tt.edit(&c)
			err := c.Validate()
			if tt.words == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.words)
			}
			for _, w := range tt.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			// The constructors refuse what Validate refuses.
			if g, err := NewGenerator(c, 1); err == nil {
				g.Free()
				t.Errorf("NewGenerator accepted the config")
			}
			if d, err := NewDiscriminator(c, 1); err == nil {
				d.Free()
				t.Errorf("NewDiscriminator accepted the config")
			}
		})
	}
}

func TestZChunks(t *testing.T) {
	tests := []struct {
		res, dimZ        int
		chunks, chunkLen int
		gRes, dRes       []int
	}{
		{32, 120, 4, 30, []int{8, 16, 32}, []int{16, 8, 8, 8}},
		{64, 100, 5, 20, []int{8, 16, 32, 64}, []int{32, 16, 8, 4, 4}},
		{128, 120, 6, 20, []int{8, 16, 32, 64, 128}, []int{64, 32, 16, 8, 4, 4}},
		{256, 140, 7, 20, []int{8, 16, 32, 64, 128, 256}, []int{128, 64, 32, 16, 8, 4, 4}},
	}
	for _, tt := range tests {
		c := Config{Resolution: tt.res, DimZ: tt.dimZ}
		if got := c.ZChunks(); got != tt.chunks {
			t.Errorf("res %d: ZChunks() = %d, want %d", tt.res, got, tt.chunks)
		}
		if got := c.ZChunk(); got != tt.chunkLen {
			t.Errorf("res %d: ZChunk() = %d, want %d", tt.res, got, tt.chunkLen)
		}
		if got := c.gResolutions(); !slices.Equal(got, tt.gRes) {
			t.Errorf("res %d: G block resolutions %v, want %v", tt.res, got, tt.gRes)
		}
		if got := c.dResolutions(); !slices.Equal(got, tt.dRes) {
			t.Errorf("res %d: D block resolutions %v, want %v", tt.res, got, tt.dRes)
		}
	}
}
