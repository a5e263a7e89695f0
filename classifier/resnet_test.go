package classifier

import (
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ganshift/checkpoint"
	"ganshift/dataset"
	"ganshift/internal/testutil"
	"ganshift/torch"
)

// The fixtures of testdata come from the independent PyTorch model
// tools/reference/resnet_ref.py (see testdata/README).

// parityTol bounds the difference from the reference relative to the
// largest reference value (absolutely below 1): float32 rounding through
// 50 layers, which depends on the convolution algorithms and layouts
// chosen, reaches about 2e-5 of the logits' scale.
const parityTol = 1e-4

func TestParseResNet(t *testing.T) {
	tests := []struct {
		arch                    string
		depth, groups, perGroup int
		bottleneck              bool
		counts                  [4]int
		wantErr                 string
	}{
		{arch: "resnet18", depth: 18, groups: 1, perGroup: 64, counts: [4]int{2, 2, 2, 2}},
		{arch: "resnet34", depth: 34, groups: 1, perGroup: 64, counts: [4]int{3, 4, 6, 3}},
		{arch: "resnet50", depth: 50, groups: 1, perGroup: 64, bottleneck: true, counts: [4]int{3, 4, 6, 3}},
		{arch: "resnet101", depth: 101, groups: 1, perGroup: 64, bottleneck: true, counts: [4]int{3, 4, 23, 3}},
		{arch: "resnet152", depth: 152, groups: 1, perGroup: 64, bottleneck: true, counts: [4]int{3, 8, 36, 3}},
		{arch: "resnext50_32x4d", depth: 50, groups: 32, perGroup: 4, bottleneck: true, counts: [4]int{3, 4, 6, 3}},
		{arch: "resnext101_32x8d", depth: 101, groups: 32, perGroup: 8, bottleneck: true, counts: [4]int{3, 4, 23, 3}},
		{arch: "wide_resnet50_2", depth: 50, groups: 1, perGroup: 128, bottleneck: true, counts: [4]int{3, 4, 6, 3}},
		{arch: "resnet20", wantErr: "depth 20"},
		{arch: "resnext18_32x4d", wantErr: "basic blocks"},
		{arch: "resnext50_32x4", wantErr: "resnext50_32x4d"},
		{arch: "resnext50_0x4d", wantErr: "positive"},
		{arch: "wide_resnet50", wantErr: "wide_resnet50_2"},
		{arch: "resnetX", wantErr: "not a number"},
		{arch: "vgg16", wantErr: "not a ResNet"},
		{arch: "smallcnn", wantErr: "not a ResNet"},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			sp, err := parseResNet(tc.arch, 64)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				if IsResNet(tc.arch) {
					t.Errorf("IsResNet(%q) = true", tc.arch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sp.depth != tc.depth || sp.groups != tc.groups || sp.perGroup != tc.perGroup ||
				sp.bottleneck != tc.bottleneck || sp.counts != tc.counts {
				t.Errorf("spec %+v", sp)
			}
			if sp.name() != tc.arch {
				t.Errorf("name() = %q, want %q", sp.name(), tc.arch)
			}
		})
	}
}

// TestParamCounts checks the layouts against torchvision's documented
// parameter counts (weights and biases, no batch-norm statistics).
func TestParamCounts(t *testing.T) {
	for arch, want := range map[string]int64{
		"resnet18":         11_689_512,
		"resnet34":         21_797_672,
		"resnet50":         25_557_032,
		"resnet101":        44_549_160,
		"resnet152":        60_192_808,
		"resnext50_32x4d":  25_028_904,
		"resnext101_32x8d": 88_791_336,
		"resnext101_64x4d": 83_455_272,
		"wide_resnet50_2":  68_883_240,
		"wide_resnet101_2": 126_886_696,
	} {
		if n := paramCount(t, arch, 64, 1000); n != want {
			t.Errorf("%s: %d parameters, torchvision has %d", arch, n, want)
		}
	}
}

// paramCount counts the parameters (not statistics) of a layout.
func paramCount(t *testing.T, arch string, width int, classes int64) int64 {
	t.Helper()
	sp, err := parseResNet(arch, width)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, ts := range sp.layout(classes) {
		switch ts.kind {
		case kindBNMean, kindBNVar, kindBNCount:
		default:
			n += product(ts.shape)
		}
	}
	return n
}

func product(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// readKeys reads a key listing of testdata/keys ("name (d0, d1, ...)"), in
// order, as a shapes-only state dict and the list of names.
func readKeys(t *testing.T, arch string) (map[string]checkpoint.Tensor, []string) {
	t.Helper()
	names, shapes := testutil.KeyListing(t, filepath.Join("testdata", "keys", arch+".txt"))
	state := make(map[string]checkpoint.Tensor, len(shapes))
	for name, shape := range shapes {
		state[name] = checkpoint.Tensor{Shape: shape}
	}
	return state, names
}

// TestInferFromKeys infers full-size architectures from the key listings
// PyTorch wrote, and checks that the layout has the same keys, shapes and
// order.
func TestInferFromKeys(t *testing.T) {
	tests := []struct {
		arch    string
		tensors int
		params  int64
	}{
		{"resnet18", 122, 11_689_512},
		{"resnet50", 320, 25_557_032},
		{"resnext101_32x8d", 626, 88_791_336},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			state, names := readKeys(t, tc.arch)
			cfg, err := InferResNet(state)
			if err != nil {
				t.Fatal(err)
			}
			want := Config{Arch: tc.arch, Size: DefaultResNetSize, Classes: 1000}
			if cfg.Arch != want.Arch || cfg.Width != 0 || cfg.Size != want.Size || cfg.Classes != want.Classes {
				t.Errorf("config %+v, want %+v", cfg, want)
			}
			sp, err := parseResNet(cfg.Arch, cfg.baseWidth())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ts := range sp.layout(1000) {
				got = append(got, ts.name)
				if !slices.Equal(ts.shape, state[ts.name].Shape) {
					t.Errorf("%s: layout shape %v, listing %v", ts.name, ts.shape, state[ts.name].Shape)
				}
			}
			if !slices.Equal(got, names) {
				t.Errorf("layout order differs from the listing's")
			}
			if params := paramCount(t, tc.arch, 64, 1000); len(got) != tc.tensors || params != tc.params {
				t.Errorf("%d tensors, %d parameters; want %d, %d", len(got), params, tc.tensors, tc.params)
			}
		})
	}
}

// TestInferErrors breaks the ResNet-50 listing in the ways a wrong file
// would, and checks that the error names what does not fit.
func TestInferErrors(t *testing.T) {
	base, _ := readKeys(t, "resnet50")
	del := func(prefix string) func(map[string]checkpoint.Tensor) {
		return func(s map[string]checkpoint.Tensor) {
			for k := range s {
				if strings.HasPrefix(k, prefix) {
					delete(s, k)
				}
			}
		}
	}
	set := func(k string, shape ...int64) func(map[string]checkpoint.Tensor) {
		return func(s map[string]checkpoint.Tensor) { s[k] = checkpoint.Tensor{Shape: shape} }
	}
	tests := []struct {
		name   string
		change func(map[string]checkpoint.Tensor)
		want   []string // substrings of the error; none means it loads
	}{
		{"intact", func(map[string]checkpoint.Tensor) {}, nil},
		{"no counters", func(s map[string]checkpoint.Tensor) {
			for k := range s {
				if strings.HasSuffix(k, "num_batches_tracked") {
					delete(s, k)
				}
			}
		}, nil},
		{"shape", set("layer2.0.conv2.weight", 128, 64, 3, 3), []string{`"layer2.0.conv2.weight"`, "[128 64 3 3]", "needs [128 128 3 3]", "resnet50"}},
		{"first of several", func(s map[string]checkpoint.Tensor) {
			s["layer3.2.bn1.weight"] = checkpoint.Tensor{Shape: []int64{7}}
			s["layer1.1.conv1.weight"] = checkpoint.Tensor{Shape: []int64{64, 256, 3, 3}}
		}, []string{`"layer1.1.conv1.weight"`}},
		{"missing", del("layer3.1.bn2.running_var"), []string{`missing tensor "layer3.1.bn2.running_var"`, "[256]"}},
		{"extra", set("layer4.0.se.weight", 8), []string{`unexpected tensor "layer4.0.se.weight"`}},
		{"depth", del("layer3.5."), []string{"[3 4 5 3]", "bottleneck", "fits no torchvision depth"}},
		{"no stage", del("layer4."), []string{`missing tensor "layer4.0.conv1.weight"`}},
		{"no stem", del("conv1.weight"), []string{`missing tensor "conv1.weight"`}},
		{"gray stem", set("conv1.weight", 64, 1, 7, 7), []string{`"conv1.weight"`, "(width, 3, 7, 7)"}},
		{"no head", del("fc.weight"), []string{`missing tensor "fc.weight"`}},
		{"flat head", set("fc.weight", 1000), []string{`"fc.weight"`, "2 dimensions"}},
		{"groups", set("layer1.0.conv2.weight", 64, 24, 3, 3), []string{`"layer1.0.conv2.weight"`, "not a multiple"}},
		{"biggan", func(s map[string]checkpoint.Tensor) {
			clear(s)
			s["shared.weight"] = checkpoint.Tensor{Shape: []int64{1000, 128}}
		}, []string{`missing tensor "conv1.weight"`, "BigGAN"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := maps.Clone(base)
			tc.change(state)
			cfg, err := InferResNet(state)
			if tc.want == nil {
				if err != nil || cfg.Arch != "resnet50" {
					t.Fatalf("InferResNet = %+v, %v; want resnet50", cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func fixture(parts ...string) string {
	return filepath.Join(append([]string{"testdata"}, parts...)...)
}

// readNpy reads testdata/parity/NAME into a slice of T with its shape.
func readNpy[T any](t testing.TB, name string) ([]T, []int) {
	t.Helper()
	return testutil.ReadNpy[T](t, fixture("parity", name))
}

func loadFixture(t testing.TB, name string) *Net {
	t.Helper()
	n, err := LoadPth(fixture("parity", name+".pth"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Free)
	return n
}

// checkClose compares got with the .npy file want within parityTol.
func checkClose(t *testing.T, what string, got []float32, want string) {
	t.Helper()
	ref, shape := readNpy[float32](t, want)
	if len(got) != len(ref) {
		t.Fatalf("%s: %d values, %s has %d (shape %v)", what, len(got), want, len(ref), shape)
	}
	var diff, spread float64
	for i := range ref {
		diff = max(diff, math.Abs(float64(got[i]-ref[i])))
		spread = max(spread, math.Abs(float64(ref[i])))
	}
	t.Logf("%s: max |Go − PyTorch| = %.3g over %d values (largest %.3g)", what, diff, len(ref), spread)
	if tol := parityTol * max(1, spread); !(diff <= tol) {
		t.Errorf("%s: max abs diff %.3g > %.3g", what, diff, tol)
	}
	if spread < 0.05 {
		t.Errorf("%s: reference values within ±%.3g: too flat to show errors", what, spread)
	}
}

// run evaluates f in a fresh scope without autograd and returns its values.
func run(t *testing.T, f func(s *torch.Scope) *torch.Tensor) []float32 {
	t.Helper()
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	out := f(s)
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	v, err := out.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParity(t *testing.T) {
	x, xs := readNpy[float32](t, "x.npy")
	x48, x48s := readNpy[float32](t, "x48.npy")
	if !slices.Equal(xs, []int{2, 3, 64, 64}) || !slices.Equal(x48s, []int{2, 3, 48, 48}) {
		t.Fatalf("inputs of shapes %v, %v", xs, x48s)
	}
	tests := []struct {
		name string
		want Config
	}{
		{"resnet18_w8", Config{Arch: "resnet18", Width: 8, Size: 224, Classes: 5}},
		{"resnext50_w4", Config{Arch: "resnext50_4x32d", Width: 4, Size: 224, Classes: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := loadFixture(t, tc.name)
			if c := n.Cfg; c.Arch != tc.want.Arch || c.Width != tc.want.Width || c.Size != tc.want.Size || c.Classes != tc.want.Classes {
				t.Errorf("inferred config %+v, want %+v", c, tc.want)
			}
			logits := run(t, func(s *torch.Scope) *torch.Tensor {
				return n.Logits(s, s.FromFloat32(x, 2, 3, 64, 64))
			})
			checkClose(t, "eval logits", logits, tc.name+"_eval.npy")
			n.Cfg.Size = 64
			resized := run(t, func(s *torch.Scope) *torch.Tensor {
				return n.Classify(s, s.FromFloat32(x48, 2, 3, 48, 48))
			})
			checkClose(t, "Classify of 48 px resized to 64", resized, tc.name+"_resized.npy")
		})
	}
}

// TestParityTrain runs one training-mode forward (batch statistics) and
// checks its logits and the running statistics it updates.
func TestParityTrain(t *testing.T) {
	n := loadFixture(t, "resnet18_w8")
	x, _ := readNpy[float32](t, "x.npy")
	count := func() float32 {
		v, err := n.Params.Get("layer2.0.downsample.1.num_batches_tracked").Item()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := count()
	logits := run(t, func(s *torch.Scope) *torch.Tensor {
		return n.forward(s, s.FromFloat32(x, 2, 3, 64, 64), true)
	})
	checkClose(t, "train logits", logits, "resnet18_w8_train.npy")
	for name, file := range map[string]string{
		"bn1.running_mean":         "resnet18_w8_train_mean.npy",
		"layer4.1.bn2.running_var": "resnet18_w8_train_var.npy",
	} {
		got, err := n.Params.Get(name).Float32()
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, name, got, file)
	}
	if after := count(); after != before+1 {
		t.Errorf("num_batches_tracked %v after one training forward from %v", after, before)
	}
}

func TestLoadPthErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings; none means it loads
	}{
		{fixture("pth", "tiny_ok.pth"), nil},
		{fixture("pth", "bad_shape.pth"), []string{"bad_shape.pth", `"layer2.0.conv2.weight"`, "[4 2 3 3]", "needs [4 4 3 3]"}},
		{fixture("pth", "missing.pth"), []string{"missing.pth", `missing tensor "layer3.1.bn2.running_var"`}},
		{fixture("pth", "extra.pth"), []string{"extra.pth", `unexpected tensor "layer4.0.conv3.weight"`}},
		{fixture("pth", "counts.pth"), []string{"counts.pth", "[2 2 3 2] basic blocks", "18: [2 2 2 2]"}},
		{fixture("pth", "no_fc.pth"), []string{"no_fc.pth", `missing tensor "fc.weight"`}},
		{filepath.Join("..", "biggan", "testdata", "parity", "D.pth"), []string{"D.pth", "BigGAN"}},
		{fixture("pth", "nope.pth"), []string{"nope.pth"}},
		{filepath.Join("..", "checkpoint", "testdata", "pth", "truncated_zip.pth"), []string{"truncated_zip.pth"}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			n, err := LoadPth(tc.file)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer n.Free()
				if n.Cfg.Arch != "resnet18" || n.Cfg.Width != 2 || n.Cfg.Classes != 4 {
					t.Errorf("config %+v", n.Cfg)
				}
				return
			}
			if err == nil {
				n.Free()
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestMissingCounters loads a state dict without num_batches_tracked, as
// PyTorch before 0.4.1 saved them.
func TestMissingCounters(t *testing.T) {
	state, err := checkpoint.LoadPth(fixture("pth", "tiny_ok.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range state {
		if strings.HasSuffix(k, ".num_batches_tracked") {
			delete(state, k)
		}
	}
	n, err := FromState("old.pth", state)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Free()
	if v, err := n.Params.Get("bn1.num_batches_tracked").Item(); err != nil || v != 0 {
		t.Errorf("bn1.num_batches_tracked = %v, %v; want 0", v, err)
	}
	if _, ok := state["bn1.num_batches_tracked"]; ok {
		t.Error("FromState changed the caller's map")
	}
}

// TestResNetSaveLoad writes a ResNet read from .pth as a classifier file
// and reads it back: same config, same logits.
func TestResNetSaveLoad(t *testing.T) {
	n := loadFixture(t, "resnext50_w4")
	n.Cfg.Size, n.Cfg.Target, n.Cfg.Names = 64, 2, []string{"a", "b", "c"}
	path := filepath.Join(t.TempDir(), "r.safetensors")
	if err := n.Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if m.Cfg.Arch != "resnext50_4x32d" || m.Cfg.Width != 4 || m.Cfg.Size != 64 || m.Cfg.Target != 2 || len(m.Cfg.Names) != 3 {
		t.Errorf("config after load %+v", m.Cfg)
	}
	x, _ := readNpy[float32](t, "x.npy")
	a := run(t, func(s *torch.Scope) *torch.Tensor { return n.Logits(s, s.FromFloat32(x, 2, 3, 64, 64)) })
	b := run(t, func(s *torch.Scope) *torch.Tensor { return m.Logits(s, s.FromFloat32(x, 2, 3, 64, 64)) })
	if !slices.Equal(a, b) {
		t.Errorf("logits differ after save and load: %v vs %v", a, b)
	}
}

func TestNewResNet(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr string
	}{
		{cfg: Config{Arch: "resnet18", Width: 4, Size: 32, Classes: 2, Target: 1}},
		{cfg: Config{Arch: "resnet50", Size: 224, Classes: 0}, wantErr: "0 classes"},
		{cfg: Config{Arch: "resnet50", Size: 0, Classes: 2}, wantErr: "input size 0"},
		{cfg: Config{Arch: "resnext50_32x4d", Width: 8, Size: 224, Classes: 2}, wantErr: "32 groups"},
		{cfg: Config{Arch: "resnet51", Size: 224, Classes: 2}, wantErr: "unknown arch"},
	}
	for _, tc := range tests {
		t.Run(tc.cfg.Arch, func(t *testing.T) {
			n, err := New(tc.cfg, 1)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer n.Free()
			// ResNet-18 at base width 4 (planes 4..32): torchvision's
			// 11,689,512 less its 513,000 head, over 16², plus a 2×32+2
			// head and the batch norms' affine parts it cannot scale.
			params, buffers := n.Params.Count()
			if want := paramCount(t, "resnet18", 4, 2); params != want || buffers == 0 {
				t.Errorf("%d parameters and %d buffer values; want %d parameters", params, buffers, want)
			}
			if params < (11_689_512-513_000)/256 || params > (11_689_512-513_000)/256+5000 {
				t.Errorf("%d parameters: not about 1/256 of ResNet-18's", params)
			}
			if got := n.Params.Get("fc.weight").Shape(); !slices.Equal(got, []int64{2, 32}) {
				t.Errorf("fc.weight shape %v, want [2 32]", got)
			}
		})
	}
}

// TestInitFromReplacesHead starts a two-class classifier from the
// five-class fixture: every tensor but fc is copied.
func TestInitFromReplacesHead(t *testing.T) {
	b := loadFixture(t, "resnet18_w8")
	n, err := New(Config{Arch: "resnet18", Width: 8, Size: 64, Classes: 2, Target: 1}, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Free()
	if err := n.InitFrom(b); err != nil {
		t.Fatal(err)
	}
	copied := 0
	for _, v := range n.Params.Vars() {
		got, _ := v.T.Float32()
		if strings.HasPrefix(v.Name, "fc.") {
			if got := v.T.Shape(); got[0] != 2 {
				t.Errorf("%s shape %v, want 2 outputs", v.Name, got)
			}
			continue
		}
		want, _ := b.Params.Get(v.Name).Float32()
		if !slices.Equal(got, want) {
			t.Errorf("%s not copied from the backbone", v.Name)
		}
		copied++
	}
	if copied != len(b.Params.Vars())-2 {
		t.Errorf("%d tensors copied, want %d", copied, len(b.Params.Vars())-2)
	}
	other, err := New(Config{Arch: "resnet18", Width: 4, Size: 64, Classes: 2}, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Free()
	if err := other.InitFrom(b); err == nil || !strings.Contains(err.Error(), "base width 8") {
		t.Errorf("InitFrom across widths: error %v, want it to name base width 8", err)
	}
}

// TestTrainResNet trains a tiny ResNet with augmentation on two classes of
// synthetic images (dark and bright) and checks that it learns them and
// that training moved the running statistics, which eval then uses.
func TestTrainResNet(t *testing.T) {
	n, err := New(Config{Arch: "resnet18", Width: 4, Size: 32, Classes: 2, Target: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Free()
	rng := rand.New(rand.NewPCG(1, 2))
	mk := func(count int) *dataset.Images {
		im := &dataset.Images{N: count, C: 3, H: 32, W: 32, Data: make([]float32, count*3*32*32), Labels: make([]int, count)}
		for i := range count {
			im.Labels[i] = i % 2
			level := float32(-0.6)
			if i%2 == 1 {
				level = 0.6
			}
			for j := range 3 * 32 * 32 {
				im.Data[i*3*32*32+j] = level + 0.3*float32(rng.NormFloat64())
			}
		}
		return im
	}
	train, test := mk(64), mk(16)
	before, _ := n.Params.Get("bn1.running_mean").Float32()
	opt := TrainOptions{Epochs: 3, Batch: 16, LR: 3e-3, Seed: 1, Augment: true}
	hist, err := Train(n, train, test, opt, "test")
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if math.IsNaN(last.Loss) || last.HeldOutAcc < 0.9 {
		t.Errorf("after %d epochs: loss %v, held-out accuracy %v (want ≥ 0.9)", len(hist), last.Loss, last.HeldOutAcc)
	}
	after, _ := n.Params.Get("bn1.running_mean").Float32()
	if slices.Equal(before, after) {
		t.Error("training left bn1.running_mean unchanged")
	}
	if v, _ := n.Params.Get("bn1.num_batches_tracked").Item(); v != 12 {
		t.Errorf("bn1.num_batches_tracked = %v after 3 epochs of 4 batches, want 12", v)
	}
}

func TestCropBox(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range [][2]int64{{32, 32}, {224, 224}, {5, 9}} {
		h, w := size[0], size[1]
		minArea, maxArea := 1.0, 0.0
		for range 2000 {
			top, left, ch, cw := cropBox(rng, h, w)
			if top < 0 || left < 0 || ch < 1 || cw < 1 || top+ch > h || left+cw > w {
				t.Fatalf("%dx%d: crop at (%d, %d) of %dx%d is outside the image", h, w, top, left, ch, cw)
			}
			a := float64(ch*cw) / float64(h*w)
			minArea, maxArea = min(minArea, a), max(maxArea, a)
		}
		if h >= 32 && (minArea < 0.2 || minArea > 0.35 || maxArea < 0.9) {
			t.Errorf("%dx%d: crop areas %.2f..%.2f of the image, want about %.2f..1", h, w, minArea, maxArea, cropMinArea)
		}
	}
}

// TestAugment feeds images whose value is the column index: every crop,
// resize and flip keeps each row monotonic, and flips show as decreasing
// rows.
func TestAugment(t *testing.T) {
	const b, h, w = 16, 8, 12
	x := make([]float32, b*3*h*w)
	for i := range x {
		x[i] = float32(i % w)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	out := run(t, func(s *torch.Scope) *torch.Tensor {
		return augment(s, s.FromFloat32(x, b, 3, h, w), rng)
	})
	if len(out) != len(x) {
		t.Fatalf("%d values out, want %d", len(out), len(x))
	}
	flipped := 0
	for r := range b * 3 * h {
		row := out[r*w : (r+1)*w]
		inc, dec := true, true
		for j := 1; j < w; j++ {
			inc = inc && row[j] >= row[j-1]-1e-5
			dec = dec && row[j] <= row[j-1]+1e-5
		}
		if !inc && !dec {
			t.Fatalf("row %d is not monotonic: %v", r, row)
		}
		if dec && !inc && r%(3*h) == 0 {
			flipped++
		}
	}
	if flipped == 0 || flipped == b {
		t.Errorf("%d of %d images flipped, want some but not all", flipped, b)
	}
}
