package classifier

import (
	"math"
	"math/rand/v2"

	"ganshift/torch"
)

// The random resized crop of augment: a crop covering cropMinArea to all
// of the image, of aspect ratio (width/height) between 3/4 and 4/3 on a log
// scale, as torchvision's RandomResizedCrop draws it but with a larger
// minimum area (torchvision: 8%), since the classifier later judges whole
// generated images, not object parts.
const (
	cropMinArea  = 0.25
	cropMinRatio = 3.0 / 4
	cropMaxRatio = 4.0 / 3
)

// augment returns x (B, C, H, W) with every image replaced by a random
// resized crop of itself (resized bilinearly back to H×W), flipped
// horizontally with probability 1/2. It runs outside autograd.
func augment(s *torch.Scope, x *torch.Tensor, rng *rand.Rand) *torch.Tensor {
	shape := x.Shape()
	if len(shape) != 4 {
		return x
	}
	was := s.SetGrad(false)
	defer s.SetGrad(was)
	h, w := shape[2], shape[3]
	rev := make([]int64, w)
	for i := range rev {
		rev[i] = w - 1 - int64(i)
	}
	flip := s.FromInt64(rev, w)
	out := make([]*torch.Tensor, shape[0])
	for i := range out {
		top, left, ch, cw := cropBox(rng, h, w)
		im := s.Narrow(s.Narrow(s.Narrow(x, 0, int64(i), 1), 2, top, ch), 3, left, cw)
		if ch != h || cw != w {
			im = s.ResizeBilinear(im, h, w)
		}
		if rng.IntN(2) == 1 {
			im = s.IndexSelect(im, 3, flip)
		}
		out[i] = im
	}
	return s.Cat(0, out...)
}

// cropBox draws the crop of augment in an h×w image: its top-left corner
// and its height and width.
func cropBox(rng *rand.Rand, h, w int64) (top, left, ch, cw int64) {
	area := float64(h*w) * (cropMinArea + (1-cropMinArea)*rng.Float64())
	logR := math.Log(cropMinRatio) + (math.Log(cropMaxRatio)-math.Log(cropMinRatio))*rng.Float64()
	ratio := math.Exp(logR)
	cw = min(w, max(1, int64(math.Round(math.Sqrt(area*ratio)))))
	ch = min(h, max(1, int64(math.Round(math.Sqrt(area/ratio)))))
	top = rng.Int64N(h - ch + 1)
	left = rng.Int64N(w - cw + 1)
	return top, left, ch, cw
}
