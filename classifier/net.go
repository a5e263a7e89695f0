// Package classifier owns the cross-dataset classifier of the method: its
// backbones, its training in contrastive or joint mode, and its files.
package classifier

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"ganshift/checkpoint"
	"ganshift/nn"
	"ganshift/torch"
)

// Config describes a classifier network.
type Config struct {
	Arch string `json:"arch"` // "smallcnn", or a ResNet: "resnet50", "resnext101_32x8d", … (see IsResNet)
	// Width is a ResNet's base width, the stem's channels; 0 means
	// torchvision's 64.
	Width   int      `json:"width,omitempty"`
	Size    int      `json:"size"`    // input height and width
	Classes int      `json:"classes"` // outputs of the head
	Names   []string `json:"names,omitempty"`
	// Mode and Target are set for a cross-dataset classifier: how it was
	// trained and which output the generator is pushed toward.
	Mode   string `json:"mode,omitempty"`
	Target int    `json:"target"`
	// Training records how the weights were made (data, epochs, accuracy).
	Training map[string]any `json:"training,omitempty"`
}

// Net is a classifier of images in [-1, 1]. Arch "smallcnn" is a small
// convolutional network for small images: three conv-ReLU-maxpool stages
// (16, 32, 64 channels) and a two-layer head, names following torchvision's
// features/classifier layout. The ResNet archs are torchvision's ResNets
// and ResNeXts (resnet.go), which see the images mapped to [0, 1] and
// normalised with ImageNet's mean and std.
type Net struct {
	Cfg    Config
	Params *nn.Params

	convs [3]conv
	fc1   dense
	head  dense

	res *resnet // a ResNet's layers; nil for smallcnn
}

type conv struct{ w, b *torch.Tensor }
type dense struct{ w, b *torch.Tensor }

// smallWidths are the channels of the three stages.
var smallWidths = [3]int64{16, 32, 64}

// New builds a classifier with weights drawn from seed.
func New(cfg Config, seed uint64) (*Net, error) {
	if cfg.Classes < 1 || cfg.Target < 0 || cfg.Target >= cfg.Classes {
		return nil, fmt.Errorf("classifier: %d classes with target %d", cfg.Classes, cfg.Target)
	}
	if IsResNet(cfg.Arch) {
		return newResNet(cfg, seed)
	}
	if cfg.Arch != "smallcnn" {
		return nil, fmt.Errorf("classifier: unknown arch %q (want smallcnn, resnet18/34/50/101/152, resnextD_GxWd or wide_resnetD_K)", cfg.Arch)
	}
	if cfg.Size%8 != 0 || cfg.Size <= 0 {
		return nil, fmt.Errorf("classifier: input size %d is not a positive multiple of 8", cfg.Size)
	}
	p := nn.NewParams(seed)
	n := &Net{Cfg: cfg, Params: p}
	in := int64(3)
	for i, out := range smallWidths {
		pre := fmt.Sprintf("features.%d", 3*i)
		n.convs[i] = conv{p.Fan(pre+".weight", out, in, 3, 3), p.Const(pre+".bias", 0, out)}
		in = out
	}
	side := int64(cfg.Size / 8)
	n.fc1 = dense{p.Fan("classifier.0.weight", 128, in*side*side), p.Const("classifier.0.bias", 0, 128)}
	n.head = dense{p.Fan("classifier.2.weight", int64(cfg.Classes), 128), p.Const("classifier.2.bias", 0, int64(cfg.Classes))}
	if err := p.Err(); err != nil {
		p.Free()
		return nil, err
	}
	return n, nil
}

// Free releases the network's tensors and any frozen ones.
func (n *Net) Free() {
	n.Unfreeze()
	n.Params.Free()
}

// Freeze prepares the network for use as a frozen classifier: a ResNet's
// eval-mode batch norms are folded into the convolutions before them
// (w' = w·γ/√(var+eps), b' = β − mean·γ/√(var+eps)), computed once and
// cached outside autograd, so that Logits runs one op per layer where it
// ran two. The logits change only by float rounding. Training forwards,
// and any change to the weights or statistics (training, loading: the
// tensors' version counters tell), fall back to the unfolded computation;
// Freeze again to refresh. Parameters, state dicts and saving are
// unchanged. The small CNN has nothing to fold.
func (n *Net) Freeze() error {
	if n.res == nil {
		return nil
	}
	for _, c := range n.res.convBNs() {
		if err := c.freeze(); err != nil {
			n.Unfreeze()
			return fmt.Errorf("classifier: freeze: %w", err)
		}
	}
	return nil
}

// Frozen reports whether every fold of Freeze is present and current; the
// small CNN, with nothing to fold, always is.
func (n *Net) Frozen() bool {
	if n.res == nil {
		return true
	}
	for _, c := range n.res.convBNs() {
		if !c.folded() {
			return false
		}
	}
	return true
}

// Unfreeze drops what Freeze cached.
func (n *Net) Unfreeze() {
	if n.res == nil {
		return
	}
	for _, c := range n.res.convBNs() {
		c.unfreeze()
	}
}

// Logits maps images (B, 3, S, S) in [-1, 1] to class scores (B, classes).
// A ResNet's batch norms use their running statistics (eval mode).
func (n *Net) Logits(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	return n.forward(s, x, false)
}

// forward is Logits; train makes a ResNet's batch norms use batch
// statistics and update their running ones, as training does.
func (n *Net) forward(s *torch.Scope, x *torch.Tensor, train bool) *torch.Tensor {
	if n.res != nil {
		return n.res.forward(s, x, train)
	}
	h := s.ChannelsLast(x) // see biggan.Generator.Forward
	for _, c := range n.convs {
		h = s.MaxPool2d(s.Relu(s.Conv2d(h, c.w, c.b, 1, 1, 1)), 2, 2, 0)
	}
	h = s.Reshape(h, x.Shape()[0], -1)
	h = s.Relu(s.Linear(h, n.fc1.w, n.fc1.b))
	return s.Linear(h, n.head.w, n.head.b)
}

// Classify is Logits for images of any size: G's output is resized
// (differentiably, bilinearly) to the classifier's input size first.
func (n *Net) Classify(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	size := int64(n.Cfg.Size)
	if shape := x.Shape(); len(shape) == 4 && (shape[2] != size || shape[3] != size) {
		x = s.ResizeBilinear(x, size, size)
	}
	return n.Logits(s, x)
}

// isHead reports whether a tensor belongs to the output layer, which a
// fine-tuned classifier replaces.
func (n *Net) isHead(name string) bool {
	if n.res != nil {
		return strings.HasPrefix(name, "fc.")
	}
	return strings.HasPrefix(name, "classifier.2.")
}

// InitFrom copies every tensor but the head from a pretrained backbone of
// the same architecture (and, for the small CNN, whose first dense layer
// depends on it, the same input size).
func (n *Net) InitFrom(backbone *Net) error {
	b, c := backbone.Cfg, n.Cfg
	if b.Arch != c.Arch || b.baseWidth() != c.baseWidth() || (n.res == nil && b.Size != c.Size) {
		return fmt.Errorf("classifier: backbone is %s, need %s", b.describe(), c.describe())
	}
	for _, v := range n.Params.Vars() {
		if n.isHead(v.Name) {
			continue
		}
		if err := v.T.CopyFrom(backbone.Params.Get(v.Name)); err != nil {
			return fmt.Errorf("classifier: backbone %s: %w", v.Name, err)
		}
	}
	return nil
}

// describe names the architecture in messages.
func (c Config) describe() string {
	if IsResNet(c.Arch) && c.baseWidth() != 64 {
		return fmt.Sprintf("%s at base width %d", c.Arch, c.baseWidth())
	}
	if IsResNet(c.Arch) {
		return c.Arch
	}
	return fmt.Sprintf("%s at %d px", c.Arch, c.Size)
}

const metaKey = "ganshift_classifier"

// Save writes the classifier as one safetensors file with its config in
// the metadata, atomically.
func (n *Net) Save(path string) error {
	state, err := n.Params.State()
	if err != nil {
		return fmt.Errorf("classifier: %s: %w", path, err)
	}
	cfg, err := json.Marshal(n.Cfg)
	if err != nil {
		return fmt.Errorf("classifier: %s: %w", path, err)
	}
	return checkpoint.Save(path, state, map[string]string{metaKey: string(cfg)})
}

// Load reads a classifier written by Save.
func Load(path string) (*Net, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	return Decode(path, raw)
}

// Decode reads a classifier from the bytes of a file written by Save; name
// is used in messages.
func Decode(name string, raw []byte) (*Net, error) {
	state, meta, err := checkpoint.Decode(name, raw)
	if err != nil {
		return nil, err
	}
	js, ok := meta[metaKey]
	if !ok {
		return nil, fmt.Errorf("classifier: %s: no %q metadata: not a ganshift classifier file", name, metaKey)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		return nil, fmt.Errorf("classifier: %s: metadata: %w", name, err)
	}
	n, err := New(cfg, 0)
	if err != nil {
		return nil, fmt.Errorf("classifier: %s: %w", name, err)
	}
	if err := n.Params.Load(state, name); err != nil {
		n.Free()
		return nil, fmt.Errorf("classifier: %w", err)
	}
	return n, nil
}
