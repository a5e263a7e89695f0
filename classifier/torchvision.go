package classifier

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"ganshift/checkpoint"
)

// InferResNet works out the torchvision ResNet or ResNeXt of a state dict
// from its keys and shapes: the base width from conv1.weight, the block
// kind from whether layer1.0.conv3.weight exists, the depth from the
// blocks per stage, the groups and width per group from
// layer1.0.conv2.weight, and the classes from fc.weight. It then checks
// every tensor against the architecture found: a state dict that fits none
// is an error naming the first key (in torchvision's order) or shape that
// does not fit. num_batches_tracked counters may be missing (PyTorch
// before 0.4.1 did not save them); every other tensor must be there.
//
// The config has Size DefaultResNetSize and Target 0; dilated ResNets
// (torchvision's replace_stride_with_dilation) have the same keys and are
// not told apart.
func InferResNet(state map[string]checkpoint.Tensor) (Config, error) {
	sp, classes, err := inferResNet(state)
	if err != nil {
		return Config{}, err
	}
	desc := fmt.Sprintf("%s, %d classes", sp, classes)
	specs := sp.layout(classes)
	for _, ts := range specs {
		t, ok := state[ts.name]
		if !ok {
			if ts.kind == kindBNCount {
				continue
			}
			return Config{}, fmt.Errorf("missing tensor %q (shape %v) of the architecture inferred (%s)", ts.name, ts.shape, desc)
		}
		if !slices.Equal(t.Shape, ts.shape) {
			return Config{}, fmt.Errorf("tensor %q has shape %v, the architecture inferred (%s) needs %v", ts.name, t.Shape, desc, ts.shape)
		}
	}
	known := make(map[string]bool, len(specs))
	for _, ts := range specs {
		known[ts.name] = true
	}
	var extra []string
	for k := range state {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return Config{}, fmt.Errorf("unexpected tensor %q (shape %v) that the architecture inferred (%s) does not have", extra[0], state[extra[0]].Shape, desc)
	}
	cfg := Config{Arch: sp.name(), Size: DefaultResNetSize, Classes: int(classes)}
	if sp.width != 64 {
		cfg.Width = sp.width
	}
	return cfg, nil
}

// inferResNet reads the architecture from the few tensors that determine it.
func inferResNet(state map[string]checkpoint.Tensor) (resnetSpec, int64, error) {
	var sp resnetSpec
	stem, err := shapeOf(state, "conv1.weight", 4, "the stem convolution")
	if err != nil {
		switch {
		case has(state, "shared.weight"), has(state, "embed.weight"):
			err = fmt.Errorf("%w; this looks like a BigGAN state dict, not a torchvision ResNet", err)
		case has(state, "features.0.weight"):
			err = fmt.Errorf("%w; this looks like ganshift's small CNN or a VGG, not a ResNet", err)
		}
		return sp, 0, err
	}
	if stem[1] != 3 || stem[2] != 7 || stem[3] != 7 || stem[0] < 1 {
		return sp, 0, fmt.Errorf("tensor %q has shape %v, want (width, 3, 7, 7) as torchvision's ResNet stem", "conv1.weight", stem)
	}
	sp.width = int(stem[0])
	sp.bottleneck = has(state, "layer1.0.conv3.weight")
	for i := range sp.counts {
		for has(state, fmt.Sprintf("layer%d.%d.conv1.weight", i+1, sp.counts[i])) {
			sp.counts[i]++
		}
		if sp.counts[i] == 0 {
			return sp, 0, fmt.Errorf("missing tensor %q: stage layer%d has no blocks", fmt.Sprintf("layer%d.0.conv1.weight", i+1), i+1)
		}
	}
	kind := "basic"
	if sp.bottleneck {
		kind = "bottleneck"
	}
	var known []string
	for _, r := range resnetDepths {
		if r.bottleneck == sp.bottleneck {
			known = append(known, fmt.Sprintf("%d: %v", r.depth, r.counts))
			if r.counts == sp.counts {
				sp.depth = r.depth
			}
		}
	}
	if sp.depth == 0 {
		return sp, 0, fmt.Errorf("stages layer1..layer4 have %v %s blocks, which fits no torchvision depth (%s)", sp.counts, kind, strings.Join(known, ", "))
	}
	sp.groups, sp.perGroup = 1, 64
	if sp.bottleneck {
		key := "layer1.0.conv2.weight"
		c2, err := shapeOf(state, key, 4, "a bottleneck's 3×3 convolution")
		if err != nil {
			return sp, 0, err
		}
		if c2[1] < 1 || c2[0]%c2[1] != 0 {
			return sp, 0, fmt.Errorf("tensor %q has shape %v: %d output channels are not a multiple of %d inputs per group", key, c2, c2[0], c2[1])
		}
		sp.groups = int(c2[0] / c2[1])
		// c2[1] = int(width·perGroup/64).
		if c2[1]*64%int64(sp.width) != 0 {
			return sp, 0, fmt.Errorf("tensor %q has shape %v: %d channels per group fit no integral width per group at base width %d", key, c2, c2[1], sp.width)
		}
		sp.perGroup = int(c2[1] * 64 / int64(sp.width))
	}
	fc, err := shapeOf(state, "fc.weight", 2, "the classifier head")
	if err != nil {
		return sp, 0, err
	}
	if fc[0] < 1 {
		return sp, 0, fmt.Errorf("tensor %q has shape %v: no classes", "fc.weight", fc)
	}
	return sp, fc[0], nil
}

func has(state map[string]checkpoint.Tensor, key string) bool {
	_, ok := state[key]
	return ok
}

// shapeOf returns the shape of key, which must have dims dimensions.
func shapeOf(state map[string]checkpoint.Tensor, key string, dims int, what string) ([]int64, error) {
	t, ok := state[key]
	if !ok {
		return nil, fmt.Errorf("missing tensor %q (%s)", key, what)
	}
	if len(t.Shape) != dims {
		return nil, fmt.Errorf("tensor %q has shape %v, want %d dimensions (%s)", key, t.Shape, dims, what)
	}
	return t.Shape, nil
}

// LoadPth reads a torchvision ResNet or ResNeXt state dict saved by
// torch.save (legacy or zip format), inferring its architecture (see
// InferResNet). The network is in eval mode for Classify and Logits and
// keeps its head (fc), typically ImageNet's 1,000 classes; train-classifier
// replaces the head. Missing num_batches_tracked counters read as 0.
func LoadPth(path string) (*Net, error) {
	state, err := checkpoint.LoadPth(path)
	if err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	return FromState(path, state)
}

// FromState builds a ResNet classifier from a torchvision state dict; name
// is used in messages.
func FromState(name string, state map[string]checkpoint.Tensor) (*Net, error) {
	cfg, err := InferResNet(state)
	if err != nil {
		return nil, fmt.Errorf("classifier: %s: %w", name, err)
	}
	n, err := New(cfg, 0)
	if err != nil {
		return nil, fmt.Errorf("classifier: %s: %w", name, err)
	}
	filled, copied := state, false
	for _, v := range n.Params.Vars() {
		if _, ok := state[v.Name]; ok || !strings.HasSuffix(v.Name, ".num_batches_tracked") {
			continue
		}
		if !copied { // leave the caller's map as it was
			filled, copied = maps.Clone(state), true
		}
		filled[v.Name] = checkpoint.Tensor{Shape: []int64{}, Data: []float32{0}}
	}
	if err := n.Params.Load(filled, name); err != nil {
		n.Free()
		return nil, fmt.Errorf("classifier: %w", err)
	}
	return n, nil
}
