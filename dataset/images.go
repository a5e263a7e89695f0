// Package dataset loads and makes the image sets used by ganshift: MNIST
// digits (the GAN's own domain), typeset digits rendered from fonts (a new
// domain with a distinct look) and folders of ordinary image files.
//
// Every set is an [Images]: float32 pixels in NCHW order scaled to [-1, 1],
// with one integer label per image.
package dataset

import (
	"fmt"
	"math/rand/v2"
)

// Images is a set of images as float32 NCHW in [-1, 1] with one integer label each.
type Images struct {
	N, C, H, W int
	Data       []float32 // len N*C*H*W, NCHW, values in [-1,1]
	Labels     []int     // len N
}

// newImages allocates a zeroed set of n images of c×h×w.
func newImages(n, c, h, w int) *Images {
	return &Images{
		N: n, C: c, H: h, W: w,
		Data:   make([]float32, n*c*h*w),
		Labels: make([]int, n),
	}
}

// size returns the number of values in one image.
func (im *Images) size() int { return im.C * im.H * im.W }

// Image returns a view of image i (C*H*W values) that shares memory with
// im.Data. Its capacity is capped, so appending to it never overwrites the
// next image.
func (im *Images) Image(i int) []float32 {
	n := im.size()
	return im.Data[i*n : (i+1)*n : (i+1)*n]
}

// Gather copies the images at the indices idx, in that order, into one new
// NCHW buffer and returns it with their labels. Indices may repeat.
func (im *Images) Gather(idx []int) ([]float32, []int) {
	n := im.size()
	data := make([]float32, len(idx)*n)
	labels := make([]int, len(idx))
	for k, i := range idx {
		copy(data[k*n:(k+1)*n], im.Image(i))
		labels[k] = im.Labels[i]
	}
	return data, labels
}

// Subset returns a new set holding copies of the images at the indices idx,
// in that order.
func (im *Images) Subset(idx []int) *Images {
	data, labels := im.Gather(idx)
	return &Images{N: len(idx), C: im.C, H: im.H, W: im.W, Data: data, Labels: labels}
}

// Split shuffles the indices of im deterministically from seed and returns
// two new sets: test holds the first heldOut shuffled images and train the
// rest. heldOut is clamped to [0, N]. The same seed always gives the same
// split.
func (im *Images) Split(heldOut int, seed uint64) (train, test *Images) {
	heldOut = min(max(heldOut, 0), im.N)
	rng := rand.New(rand.NewPCG(seed, splitStream))
	perm := rng.Perm(im.N)
	return im.Subset(perm[heldOut:]), im.Subset(perm[:heldOut])
}

// Concat joins sets of equal C, H and W into one new set, in order.
// It fails when given no sets, a nil set or sets of different shapes.
func Concat(sets ...*Images) (*Images, error) {
	if len(sets) == 0 {
		return nil, fmt.Errorf("dataset: concat: no sets")
	}
	n := 0
	for i, s := range sets {
		if s == nil {
			return nil, fmt.Errorf("dataset: concat: set %d is nil", i)
		}
		if s.C != sets[0].C || s.H != sets[0].H || s.W != sets[0].W {
			return nil, fmt.Errorf("dataset: concat: set %d is %d×%d×%d, want %d×%d×%d",
				i, s.C, s.H, s.W, sets[0].C, sets[0].H, sets[0].W)
		}
		n += s.N
	}
	out := newImages(n, sets[0].C, sets[0].H, sets[0].W)
	data, labels := out.Data[:0], out.Labels[:0]
	for _, s := range sets {
		data = append(data, s.Data[:s.N*s.size()]...)
		labels = append(labels, s.Labels[:s.N]...)
	}
	return out, nil
}

// splitStream is the second PCG seed word used by Split, so that a split and
// a rendering made from the same seed are unrelated.
const splitStream = 0x9e3779b97f4a7c15
