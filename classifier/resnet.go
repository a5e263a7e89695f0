package classifier

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"ganshift/nn"
	"ganshift/torch"
)

// torchvision's ResNet and ResNeXt classifiers, with tensors named as in
// their state dicts:
//
//	conv1.weight                      7×7 stem convolution, stride 2
//	bn1.{weight,bias,running_mean,running_var,num_batches_tracked}
//	layerS.I.conv{1,2[,3]}.weight     stage S (1..4), block I
//	layerS.I.bn{1,2[,3]}.*
//	layerS.0.downsample.{0.weight,1.*} the projection shortcut
//	fc.weight, fc.bias                the classifier head
//
// A stem max pool (3×3, stride 2) follows bn1; stages 2-4 halve the
// resolution in their first block (the Bottleneck block strides in its
// 3×3 convolution, as torchvision does); a global average pool precedes
// fc. Batch norms use eps 1e-5 and momentum 0.1.
//
// Width is the base width (torchvision: 64): the stem's channels, and the
// planes of stage S are Width·2^(S−1). A Bottleneck's inner width is
// int(planes·widthPerGroup/64)·groups and its output 4·planes. A smaller
// base width gives the same layout with fewer channels (the test fixtures).

// DefaultResNetSize is the input size of ResNet classifiers unless a
// config says otherwise: ImageNet's 224×224.
const DefaultResNetSize = 224

// The ImageNet normalisation applied to [0, 1] images before a ResNet.
var (
	imagenetMean = [3]float32{0.485, 0.456, 0.406}
	imagenetStd  = [3]float32{0.229, 0.224, 0.225}
)

const (
	bnEps      = 1e-5
	bnMomentum = 0.1
)

// resnetDepths are the blocks per stage of each torchvision depth.
var resnetDepths = []struct {
	depth      int
	bottleneck bool
	counts     [4]int
}{
	{18, false, [4]int{2, 2, 2, 2}},
	{34, false, [4]int{3, 4, 6, 3}},
	{50, true, [4]int{3, 4, 6, 3}},
	{101, true, [4]int{3, 4, 23, 3}},
	{152, true, [4]int{3, 8, 36, 3}},
}

// resnetSpec is a ResNet architecture.
type resnetSpec struct {
	depth      int
	bottleneck bool
	counts     [4]int
	groups     int // of the 3×3 convolutions in Bottleneck blocks
	perGroup   int // torchvision's width_per_group
	width      int // base width
}

// IsResNet reports whether arch names a ResNet or ResNeXt.
func IsResNet(arch string) bool {
	_, err := parseResNet(arch, 64)
	return err == nil
}

// parseResNet reads an architecture name: resnetD (D = 18, 34, 50, 101,
// 152), resnextD_GxWd (G groups of width W per 64 planes, D ≥ 50), or
// wide_resnetD_K (width per group 64·K, D ≥ 50).
func parseResNet(arch string, width int) (resnetSpec, error) {
	sp := resnetSpec{groups: 1, perGroup: 64, width: width}
	var depth string
	switch {
	case strings.HasPrefix(arch, "resnext"):
		d, rest, ok := strings.Cut(strings.TrimPrefix(arch, "resnext"), "_")
		g, w, ok2 := strings.Cut(strings.TrimSuffix(rest, "d"), "x")
		var err1, err2 error
		sp.groups, err1 = strconv.Atoi(g)
		sp.perGroup, err2 = strconv.Atoi(w)
		if !ok || !ok2 || !strings.HasSuffix(rest, "d") || err1 != nil || err2 != nil {
			return sp, fmt.Errorf("arch %q: want resnextDEPTH_GROUPSxWIDTHd, like resnext50_32x4d", arch)
		}
		depth = d
	case strings.HasPrefix(arch, "wide_resnet"):
		d, k, ok := strings.Cut(strings.TrimPrefix(arch, "wide_resnet"), "_")
		mult, err := strconv.Atoi(k)
		if !ok || err != nil {
			return sp, fmt.Errorf("arch %q: want wide_resnetDEPTH_K, like wide_resnet50_2", arch)
		}
		sp.perGroup = 64 * mult
		depth = d
	case strings.HasPrefix(arch, "resnet"):
		depth = strings.TrimPrefix(arch, "resnet")
	default:
		return sp, fmt.Errorf("arch %q is not a ResNet", arch)
	}
	d, err := strconv.Atoi(depth)
	if err != nil {
		return sp, fmt.Errorf("arch %q: depth %q is not a number", arch, depth)
	}
	for _, r := range resnetDepths {
		if r.depth == d {
			sp.depth, sp.bottleneck, sp.counts = d, r.bottleneck, r.counts
		}
	}
	switch {
	case sp.depth == 0:
		return sp, fmt.Errorf("arch %q: depth %d is none of torchvision's 18, 34, 50, 101, 152", arch, d)
	case sp.groups < 1 || sp.perGroup < 1:
		return sp, fmt.Errorf("arch %q: groups and width per group must be positive", arch)
	case !sp.bottleneck && (sp.groups != 1 || sp.perGroup != 64):
		return sp, fmt.Errorf("arch %q: ResNet-%d's basic blocks have no groups or widths (resnext and wide_resnet need depth 50 or more)", arch, d)
	case width < 1:
		return sp, fmt.Errorf("arch %q: base width %d must be positive", arch, width)
	case sp.bottleneck && sp.inner(0) < int64(sp.groups):
		return sp, fmt.Errorf("arch %q at base width %d: blocks of width %d cannot have %d groups", arch, width, sp.inner(0), sp.groups)
	}
	return sp, nil
}

// name is the canonical architecture name of sp.
func (sp resnetSpec) name() string {
	switch {
	case sp.groups == 1 && sp.perGroup == 64:
		return fmt.Sprintf("resnet%d", sp.depth)
	case sp.groups == 1 && sp.perGroup%64 == 0:
		return fmt.Sprintf("wide_resnet%d_%d", sp.depth, sp.perGroup/64)
	}
	return fmt.Sprintf("resnext%d_%dx%dd", sp.depth, sp.groups, sp.perGroup)
}

func (sp resnetSpec) String() string {
	if sp.width == 64 {
		return sp.name()
	}
	return fmt.Sprintf("%s at base width %d", sp.name(), sp.width)
}

// planes of stage i (0-based).
func (sp resnetSpec) planes(i int) int64 { return int64(sp.width) << i }

// inner is the width of stage i's Bottleneck 3×3 convolutions.
func (sp resnetSpec) inner(i int) int64 {
	return sp.planes(i) * int64(sp.perGroup) / 64 * int64(sp.groups)
}

// expansion is the ratio of a block's output channels to its planes.
func (sp resnetSpec) expansion() int64 {
	if sp.bottleneck {
		return 4
	}
	return 1
}

// features is the number of channels fc reads.
func (sp resnetSpec) features() int64 { return sp.planes(3) * sp.expansion() }

// The kinds of tensor a ResNet has, which decide how New fills them.
type tensorKind int

const (
	kindConv tensorKind = iota
	kindBNWeight
	kindBNBias
	kindBNMean
	kindBNVar
	kindBNCount
	kindFCWeight
	kindFCBias
)

// addFunc registers one tensor of the network.
type addFunc func(name string, kind tensorKind, shape ...int64) *torch.Tensor

type batchNorm struct{ w, b, mean, variance, count *torch.Tensor }

type convBN struct {
	w                   *torch.Tensor
	stride, pad, groups int64
	bn                  batchNorm
	fold                *foldedConv // set by Freeze
}

// foldedConv is a convolution with its eval-mode batch norm folded in,
// and the versions of the five tensors it was computed from.
type foldedConv struct {
	w, b     *torch.Tensor
	versions [5]int64
}

type resBlock struct {
	convs []convBN // 2 (basic) or 3 (bottleneck)
	down  *convBN
}

type resnet struct {
	spec   resnetSpec
	stem   convBN
	stages [4][]resBlock
	fc     dense
}

// build lays out the network, registering every tensor with add in the
// order of torchvision's state dict.
func (sp resnetSpec) build(classes int64, add addFunc) *resnet {
	cbn := func(prefix, bnName string, in, out, k, stride, groups int64) convBN {
		c := convBN{stride: stride, pad: k / 2, groups: groups}
		c.w = add(prefix+".weight", kindConv, out, in/groups, k, k)
		c.bn = newBatchNorm(add, bnName, out)
		return c
	}
	r := &resnet{spec: sp}
	in := int64(sp.width)
	r.stem = cbn("conv1", "bn1", 3, in, 7, 2, 1)
	for i, n := range sp.counts {
		planes, out := sp.planes(i), sp.planes(i)*sp.expansion()
		for j := range n {
			pre := fmt.Sprintf("layer%d.%d", i+1, j)
			stride := int64(1)
			if i > 0 && j == 0 {
				stride = 2
			}
			var b resBlock
			if sp.bottleneck {
				w := sp.inner(i)
				b.convs = []convBN{
					cbn(pre+".conv1", pre+".bn1", in, w, 1, 1, 1),
					cbn(pre+".conv2", pre+".bn2", w, w, 3, stride, int64(sp.groups)),
					cbn(pre+".conv3", pre+".bn3", w, out, 1, 1, 1),
				}
			} else {
				b.convs = []convBN{
					cbn(pre+".conv1", pre+".bn1", in, planes, 3, stride, 1),
					cbn(pre+".conv2", pre+".bn2", planes, planes, 3, 1, 1),
				}
			}
			if stride != 1 || in != out {
				d := cbn(pre+".downsample.0", pre+".downsample.1", in, out, 1, stride, 1)
				b.down = &d
			}
			r.stages[i] = append(r.stages[i], b)
			in = out
		}
	}
	r.fc = dense{add("fc.weight", kindFCWeight, classes, in), add("fc.bias", kindFCBias, classes)}
	return r
}

func newBatchNorm(add addFunc, prefix string, n int64) batchNorm {
	return batchNorm{
		w:        add(prefix+".weight", kindBNWeight, n),
		b:        add(prefix+".bias", kindBNBias, n),
		mean:     add(prefix+".running_mean", kindBNMean, n),
		variance: add(prefix+".running_var", kindBNVar, n),
		count:    add(prefix+".num_batches_tracked", kindBNCount),
	}
}

// tensorSpec is one tensor of a layout.
type tensorSpec struct {
	name  string
	kind  tensorKind
	shape []int64
}

// layout lists the tensors of sp with a head of classes outputs, without
// allocating them.
func (sp resnetSpec) layout(classes int64) []tensorSpec {
	var out []tensorSpec
	sp.build(classes, func(name string, kind tensorKind, shape ...int64) *torch.Tensor {
		out = append(out, tensorSpec{name, kind, shape})
		return nil
	})
	return out
}

// newResNet builds a ResNet classifier with torchvision's initialisation
// (He normal convolutions, unit batch norms), the head drawn from seed.
func newResNet(cfg Config, seed uint64) (*Net, error) {
	sp, err := parseResNet(cfg.Arch, cfg.baseWidth())
	if err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	if cfg.Size < 1 {
		return nil, fmt.Errorf("classifier: input size %d is not positive", cfg.Size)
	}
	p := nn.NewParams(seed)
	r := sp.build(int64(cfg.Classes), func(name string, kind tensorKind, shape ...int64) *torch.Tensor {
		switch kind {
		case kindConv: // kaiming_normal_, mode fan_out, ReLU gain
			fanOut := shape[0] * shape[2] * shape[3]
			return p.Normal(name, math.Sqrt(2/float64(fanOut)), shape...)
		case kindBNWeight:
			return p.Const(name, 1, shape...)
		case kindBNBias, kindFCBias:
			return p.Const(name, 0, shape...)
		case kindBNMean, kindBNCount:
			return p.Buffer(name, 0, shape...)
		case kindBNVar:
			return p.Buffer(name, 1, shape...)
		}
		return p.Fan(name, shape...)
	})
	if err := p.Err(); err != nil {
		p.Free()
		return nil, err
	}
	return &Net{Cfg: cfg, Params: p, res: r}, nil
}

// baseWidth is the config's ResNet base width, torchvision's 64 when unset.
func (c Config) baseWidth() int {
	if c.Width == 0 {
		return 64
	}
	return c.Width
}

// forward maps images x (B, 3, H, W) in [-1, 1] to logits. train selects
// batch statistics (and updates the running ones) over running statistics.
func (r *resnet) forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	x = s.ChannelsLast(x) // see biggan.Generator.Forward
	h := s.Relu(r.stem.forward(s, normalizeImageNet(s, x), train))
	h = s.MaxPool2d(h, 3, 2, 1)
	for _, stage := range r.stages {
		for _, b := range stage {
			h = b.forward(s, h, train)
		}
	}
	h = s.Mean(h, false, 2, 3)
	return s.Linear(h, r.fc.w, r.fc.b)
}

func (b resBlock) forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	h := x
	for i, c := range b.convs {
		h = c.forward(s, h, train)
		if i < len(b.convs)-1 {
			h = s.Relu(h)
		}
	}
	short := x
	if b.down != nil {
		short = b.down.forward(s, x, train)
	}
	return s.Relu(s.Add(h, short))
}

// sources are the tensors a folded convolution is computed from.
func (c *convBN) sources() [5]*torch.Tensor {
	return [5]*torch.Tensor{c.w, c.bn.w, c.bn.b, c.bn.mean, c.bn.variance}
}

// folded reports whether c holds a fold of its present tensors.
func (c *convBN) folded() bool {
	if c.fold == nil {
		return false
	}
	for i, t := range c.sources() {
		if t.Version() != c.fold.versions[i] {
			return false
		}
	}
	return true
}

// freeze folds the eval-mode batch norm into the convolution:
// w' = w·γ/√(var+eps), b' = β − mean·γ/√(var+eps).
func (c *convBN) freeze() error {
	c.unfreeze()
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	scale := s.Div(c.bn.w, s.Sqrt(s.AddScalar(c.bn.variance, bnEps)))
	w := s.Mul(c.w, s.Reshape(scale, -1, 1, 1, 1))
	b := s.Sub(c.bn.b, s.Mul(c.bn.mean, scale))
	if err := s.Err(); err != nil {
		return err
	}
	f := &foldedConv{w: s.Keep(w), b: s.Keep(b)}
	for i, t := range c.sources() {
		f.versions[i] = t.Version()
	}
	c.fold = f
	return nil
}

func (c *convBN) unfreeze() {
	if c.fold != nil {
		c.fold.w.Free()
		c.fold.b.Free()
		c.fold = nil
	}
}

// convBNs lists every convolution of the network.
func (r *resnet) convBNs() []*convBN {
	out := []*convBN{&r.stem}
	for i := range r.stages {
		for j := range r.stages[i] {
			b := &r.stages[i][j]
			for k := range b.convs {
				out = append(out, &b.convs[k])
			}
			if b.down != nil {
				out = append(out, b.down)
			}
		}
	}
	return out
}

func (c convBN) forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	if !train && c.folded() {
		return s.Conv2d(x, c.fold.w, c.fold.b, c.stride, c.pad, c.groups)
	}
	h := s.Conv2d(x, c.w, nil, c.stride, c.pad, c.groups)
	h = s.BatchNorm(h, c.bn.w, c.bn.b, c.bn.mean, c.bn.variance, train, bnMomentum, bnEps)
	if train {
		// Count the batch, as torchvision does (it only matters to a
		// momentum of None, but the state dict records it).
		was := s.SetGrad(false)
		next := s.AddScalar(c.bn.count, 1)
		if s.Err() == nil {
			s.Fail(c.bn.count.CopyFrom(next))
		}
		s.SetGrad(was)
	}
	return h
}

// normalizeImageNet maps x from [-1, 1] to [0, 1] and normalises it with
// ImageNet's per-channel mean and standard deviation: ((x+1)/2 − mean)/std,
// in that order of operations, as torchvision's pipeline (ToTensor, then
// Normalize) rounds.
func normalizeImageNet(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	h := s.MulScalar(s.AddScalar(x, 1), 0.5)
	h = s.Sub(h, s.FromFloat32(imagenetMean[:], 1, 3, 1, 1))
	return s.Div(h, s.FromFloat32(imagenetStd[:], 1, 3, 1, 1))
}
