package classifier

import (
	"fmt"
	"math"
	"math/rand/v2"

	"ganshift/dataset"
	"ganshift/progress"
	"ganshift/torch"
)

// The two classifier modes of the paper.
const (
	// Contrastive labels the GAN's domain 0 and the new set 1.
	Contrastive = "contrastive"
	// Joint labels both sets 1, the target class.
	Joint = "joint"
)

// TrainOptions configures supervised training.
type TrainOptions struct {
	Epochs int     `json:"epochs"`
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"` // Adam learning rate
	Seed   uint64  `json:"seed"`
	// Augment draws a random resized crop and a random horizontal flip of
	// every training image (see augment.go).
	Augment bool `json:"augment,omitempty"`
}

// DefaultTrainOptions suit the small CNN on 32×32 digits.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{Epochs: 1, Batch: 64, LR: 1e-3, Seed: 1}
}

// Epoch is the outcome of one pass over the training set.
type Epoch struct {
	Epoch       int     `json:"epoch"`
	Loss        float64 `json:"loss"`
	HeldOutAcc  float64 `json:"held_out_acc"`
	HeldOutSize int     `json:"held_out_size"`
}

// Train fits n to train's labels with Adam and cross-entropy, reporting
// accuracy on test after every epoch. Every parameter is trained; a
// ResNet's batch norms use batch statistics while training and update
// their running ones, which accuracy and later use read.
func Train(n *Net, train, test *dataset.Images, opt TrainOptions, desc string) ([]Epoch, error) {
	if train.N < opt.Batch {
		return nil, fmt.Errorf("classifier: %d training images, fewer than one batch of %d", train.N, opt.Batch)
	}
	vars, err := n.Params.Trainable()
	if err != nil {
		return nil, err
	}
	if err := n.Params.SetRequiresGrad(vars); err != nil {
		return nil, err
	}
	defer n.Params.SetRequiresGrad(nil)
	ts := make([]*torch.Tensor, len(vars))
	for i, v := range vars {
		ts[i] = v.T
	}
	adam, err := torch.NewAdam(ts, opt.LR, 0.9, 0.999, 1e-8)
	if err != nil {
		return nil, err
	}
	defer adam.Free()

	rng := rand.New(rand.NewPCG(opt.Seed, 7))
	var aug *rand.Rand
	if opt.Augment {
		aug = rand.New(rand.NewPCG(opt.Seed, 13))
	}
	steps := train.N / opt.Batch
	var hist []Epoch
	for e := 1; e <= opt.Epochs; e++ {
		bar := progress.New(steps, fmt.Sprintf("%s epoch %d/%d", desc, e, opt.Epochs))
		loss, err := trainEpoch(n, train, opt.Batch, rng.Perm(train.N), adam, bar, aug)
		if err != nil {
			return nil, fmt.Errorf("classifier: epoch %d: %w", e, err)
		}
		acc, err := Accuracy(n, test, 250)
		if err != nil {
			return nil, err
		}
		bar.Add(0, fmt.Sprintf("loss %.4f held-out acc %.4f", loss, acc))
		bar.Finish()
		hist = append(hist, Epoch{Epoch: e, Loss: loss, HeldOutAcc: acc, HeldOutSize: test.N})
	}
	return hist, nil
}

func trainEpoch(n *Net, data *dataset.Images, batch int, perm []int, adam *torch.Adam, bar *progress.Bar, aug *rand.Rand) (float64, error) {
	var sum float64
	steps := len(perm) / batch
	for i := range steps {
		v, err := trainStep(n, data, perm[i*batch:(i+1)*batch], adam, aug)
		if err != nil {
			return 0, err
		}
		if math.IsNaN(float64(v)) {
			return 0, fmt.Errorf("loss is NaN at step %d", i+1)
		}
		sum += float64(v)
		bar.Add(1, fmt.Sprintf("loss %.4f", sum/float64(i+1)))
	}
	return sum / float64(steps), nil
}

// trainStep makes one update on images idx of data, augmented with aug
// unless it is nil.
func trainStep(n *Net, data *dataset.Images, idx []int, adam *torch.Adam, aug *rand.Rand) (float32, error) {
	s := torch.NewScope()
	defer s.Close()
	x, y := batchTensors(s, data, idx)
	if aug != nil {
		x = augment(s, x, aug)
	}
	return adam.Minimize(s, s.CrossEntropy(n.forward(s, x, true), y))
}

// batchTensors uploads images idx of data and their labels.
func batchTensors(s *torch.Scope, data *dataset.Images, idx []int) (x, y *torch.Tensor) {
	pix, labels := data.Gather(idx)
	ys := make([]int64, len(labels))
	for i, l := range labels {
		ys[i] = int64(l)
	}
	b := int64(len(idx))
	return s.FromFloat32(pix, b, int64(data.C), int64(data.H), int64(data.W)), s.FromInt64(ys, b)
}

// Accuracy is the fraction of data whose arg-max class equals its label.
func Accuracy(n *Net, data *dataset.Images, batch int) (float64, error) {
	if data.N == 0 {
		return 0, fmt.Errorf("classifier: accuracy of an empty set")
	}
	correct := 0
	for start := 0; start < data.N; start += batch {
		idx := make([]int, 0, batch)
		for i := start; i < min(start+batch, data.N); i++ {
			idx = append(idx, i)
		}
		pred, err := predict(n, data, idx)
		if err != nil {
			return 0, err
		}
		for i, p := range pred {
			if int(p) == data.Labels[idx[i]] {
				correct++
			}
		}
	}
	return float64(correct) / float64(data.N), nil
}

func predict(n *Net, data *dataset.Images, idx []int) ([]int64, error) {
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	x, _ := batchTensors(s, data, idx)
	am := s.Argmax(n.Logits(s, x), 1)
	if err := s.Err(); err != nil {
		return nil, err
	}
	return am.Int64()
}

// Predict returns the arg-max classes of images x (B, 3, S, S) in [-1, 1].
func (n *Net) Predict(x []float32, b int) ([]int64, error) {
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	sz := int64(n.Cfg.Size)
	am := s.Argmax(n.Logits(s, s.FromFloat32(x, int64(b), 3, sz, sz)), 1)
	if err := s.Err(); err != nil {
		return nil, err
	}
	return am.Int64()
}

// TargetProbs returns, for each image of x (b images of size res×res in
// [-1, 1]), the classifier's probability of its target class.
func (n *Net) TargetProbs(x []float32, b, res, batch int) ([]float32, error) {
	per := 3 * res * res
	out := make([]float32, 0, b)
	for start := 0; start < b; start += batch {
		end := min(start+batch, b)
		p, err := n.targetProbs(x[start*per:end*per], end-start, res)
		if err != nil {
			return nil, err
		}
		out = append(out, p...)
	}
	return out, nil
}

func (n *Net) targetProbs(x []float32, b, res int) ([]float32, error) {
	s := torch.NewScope()
	defer s.Close()
	s.SetGrad(false)
	logits := n.Classify(s, s.FromFloat32(x, int64(b), 3, int64(res), int64(res)))
	p := s.Narrow(s.Softmax(logits, 1), 1, int64(n.Cfg.Target), 1)
	if err := s.Err(); err != nil {
		return nil, err
	}
	return p.Float32()
}

// CrossSet builds the training set of a cross-dataset classifier: the
// larger of the two sets is subsampled (by seed) to the size of the
// smaller so the classes are balanced, then labels follow mode.
func CrossSet(domain, newSet *dataset.Images, mode string, seed uint64) (*dataset.Images, error) {
	if mode != Contrastive && mode != Joint {
		return nil, fmt.Errorf("classifier: mode %q (want %s or %s)", mode, Contrastive, Joint)
	}
	n := min(domain.N, newSet.N)
	rng := rand.New(rand.NewPCG(seed, 11))
	a := domain.Subset(rng.Perm(domain.N)[:n])
	b := newSet.Subset(rng.Perm(newSet.N)[:n])
	for i := range a.Labels {
		a.Labels[i] = 0
		if mode == Joint {
			a.Labels[i] = 1
		}
	}
	for i := range b.Labels {
		b.Labels[i] = 1
	}
	return dataset.Concat(a, b)
}
