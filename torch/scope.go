package torch

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
)

// Scope owns the temporaries of one piece of work, typically one training
// step, and frees them all on Close. Ops are methods of the scope: each
// returns a tensor the scope owns.
//
// A scope keeps the first error (in the manner of bufio.Scanner): after an
// op fails, later ops return an empty tensor and do nothing, and Err reports
// the op and shapes that failed. Check Err once at the end of a forward pass.
type Scope struct {
	owned  []*Tensor
	err    error
	noGrad bool
	locked bool
}

// NewScope starts an empty scope with autograd on. Until Close, the
// calling goroutine stays on one OS thread: libtorch numbers autograd
// nodes with a per-thread counter and orders the backward pass by it, so
// a step whose ops ran on several threads could sum gradients in another
// order and stop being reproducible. Open and close a scope in the same
// goroutine.
func NewScope() *Scope {
	runtime.LockOSThread()
	C.gs_ensure_threads(C.int(threads.Load()))
	return &Scope{locked: true}
}

// Close frees every tensor the scope still owns and releases the thread.
// It may be called more than once.
func (s *Scope) Close() {
	for _, t := range s.owned {
		t.Free()
	}
	s.owned = s.owned[:0]
	if s.locked {
		s.locked = false
		runtime.UnlockOSThread()
	}
}

// Err is the first error of any op in the scope.
func (s *Scope) Err() error { return s.err }

// Len is the number of live tensors the scope owns (for leak checks).
func (s *Scope) Len() int {
	n := 0
	for _, t := range s.owned {
		if t.Valid() {
			n++
		}
	}
	return n
}

// Child starts a scope for the temporaries of one part of a computation,
// a block of a network, say. It shares s's grad mode and error, and runs
// on s's thread. Return hands the part's result to s and frees everything
// else at once: a tensor autograd still needs stays alive through the
// graph's own reference, so the peak memory of a forward pass holds what
// autograd saved rather than every intermediate.
func (s *Scope) Child() *Scope {
	return &Scope{err: s.err, noGrad: s.noGrad}
}

// Return closes the child scope c, handing t to parent (which owns it
// from then on) and passing on c's error. It returns t.
func (c *Scope) Return(parent *Scope, t *Tensor) *Tensor {
	parent.Fail(c.err)
	if t.Valid() {
		c.Keep(t)
		parent.Adopt(t)
	}
	c.Close()
	return t
}

// Keep hands t over to the caller, who must Free it; the scope no longer
// frees it on Close.
func (s *Scope) Keep(t *Tensor) *Tensor {
	for i, o := range s.owned {
		if o == t {
			s.owned[i] = &Tensor{}
			return t
		}
	}
	return t
}

// Adopt makes the scope own t.
func (s *Scope) Adopt(t *Tensor) *Tensor {
	s.owned = append(s.owned, t)
	return t
}

// SetGrad turns autograd recording on or off for the scope's later ops and
// returns the previous setting. Frozen networks and sampling run with it off.
func (s *Scope) SetGrad(on bool) (was bool) {
	was = !s.noGrad
	s.noGrad = !on
	return was
}

func (s *Scope) grad() C.int {
	if s.noGrad {
		return 0
	}
	return 1
}

// Fail records err as the scope's error if it has none.
func (s *Scope) Fail(err error) {
	if s.err == nil && err != nil {
		s.err = err
	}
}

// ok reports whether an op may run: the scope has no error and every input
// is live.
func (s *Scope) ok(op string, ins ...*Tensor) bool {
	if s.err != nil {
		return false
	}
	for _, t := range ins {
		if !t.Valid() {
			s.err = fmt.Errorf("torch: %s: input is freed or the result of a failed op", op)
			return false
		}
	}
	return true
}

// result adopts the output of a shim call, or records its error with the op
// name and input shapes.
func (s *Scope) result(op string, p *C.char, out C.gs_tensor, ins ...*Tensor) *Tensor {
	if err := cerr(p); err != nil {
		shapes := make([]string, len(ins))
		for i, t := range ins {
			shapes[i] = fmt.Sprint(t.Shape())
		}
		s.err = fmt.Errorf("torch: %s %s: %w", op, strings.Join(shapes, " "), err)
		return &Tensor{}
	}
	return s.Adopt(wrap(out))
}

// FromFloat32 is FromFloat32 owned by the scope.
func (s *Scope) FromFloat32(data []float32, shape ...int64) *Tensor {
	if s.err != nil {
		return &Tensor{}
	}
	t, err := FromFloat32(data, shape...)
	if err != nil {
		s.err = err
		return &Tensor{}
	}
	return s.Adopt(t)
}

// FromInt64 is FromInt64 owned by the scope.
func (s *Scope) FromInt64(data []int64, shape ...int64) *Tensor {
	if s.err != nil {
		return &Tensor{}
	}
	t, err := FromInt64(data, shape...)
	if err != nil {
		s.err = err
		return &Tensor{}
	}
	return s.Adopt(t)
}

// Full is Full owned by the scope.
func (s *Scope) Full(v float64, shape ...int64) *Tensor {
	if s.err != nil {
		return &Tensor{}
	}
	t, err := Full(v, shape...)
	if err != nil {
		s.err = err
		return &Tensor{}
	}
	return s.Adopt(t)
}

// Detach returns t cut off from autograd (sharing its storage).
func (s *Scope) Detach(t *Tensor) *Tensor {
	if !s.ok("detach", t) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result("detach", C.gs_detach(t.h, &out), out, t)
}

func (s *Scope) unary(name string, op C.int, a *Tensor) *Tensor {
	if !s.ok(name, a) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result(name, C.gs_unary(s.grad(), op, a.h, &out), out, a)
}

// ChannelsLast is a (N, C, H, W) with the same shape and values, stored
// with the channels innermost. Convolutions, batch norms, pooling and
// elementwise ops keep that layout, and oneDNN convolves it without
// reordering it first; reading values back (Float32) gives them in
// (N, C, H, W) order either way.
func (s *Scope) ChannelsLast(a *Tensor) *Tensor {
	return s.unary("channels last", C.GS_CHANNELS_LAST, a)
}

// Relu is max(x, 0).
func (s *Scope) Relu(a *Tensor) *Tensor { return s.unary("relu", C.GS_RELU, a) }

// Tanh is the hyperbolic tangent.
func (s *Scope) Tanh(a *Tensor) *Tensor { return s.unary("tanh", C.GS_TANH, a) }

// Sigmoid is 1/(1+exp(-x)).
func (s *Scope) Sigmoid(a *Tensor) *Tensor { return s.unary("sigmoid", C.GS_SIGMOID, a) }

// Exp is e^x.
func (s *Scope) Exp(a *Tensor) *Tensor { return s.unary("exp", C.GS_EXP, a) }

// Log is the natural logarithm.
func (s *Scope) Log(a *Tensor) *Tensor { return s.unary("log", C.GS_LOG, a) }

// Neg is −x.
func (s *Scope) Neg(a *Tensor) *Tensor { return s.unary("neg", C.GS_NEG, a) }

// Abs is |x|.
func (s *Scope) Abs(a *Tensor) *Tensor { return s.unary("abs", C.GS_ABS, a) }

// Sqrt is the square root.
func (s *Scope) Sqrt(a *Tensor) *Tensor { return s.unary("sqrt", C.GS_SQRT, a) }

// Square is x².
func (s *Scope) Square(a *Tensor) *Tensor { return s.unary("square", C.GS_SQUARE, a) }

func (s *Scope) binary(name string, op C.int, a, b *Tensor) *Tensor {
	if !s.ok(name, a, b) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result(name, C.gs_binary(s.grad(), op, a.h, b.h, &out), out, a, b)
}

// Add is a+b with broadcasting.
func (s *Scope) Add(a, b *Tensor) *Tensor { return s.binary("add", C.GS_ADD, a, b) }

// Sub is a−b with broadcasting.
func (s *Scope) Sub(a, b *Tensor) *Tensor { return s.binary("sub", C.GS_SUB, a, b) }

// Mul is a·b elementwise with broadcasting.
func (s *Scope) Mul(a, b *Tensor) *Tensor { return s.binary("mul", C.GS_MUL, a, b) }

// Div is a/b elementwise with broadcasting.
func (s *Scope) Div(a, b *Tensor) *Tensor { return s.binary("div", C.GS_DIV, a, b) }

// Maximum is the elementwise maximum.
func (s *Scope) Maximum(a, b *Tensor) *Tensor { return s.binary("maximum", C.GS_MAXIMUM, a, b) }

func (s *Scope) scalar(name string, op C.int, a *Tensor, v float64) *Tensor {
	if !s.ok(name, a) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result(name, C.gs_scalar(s.grad(), op, a.h, C.double(v), &out), out, a)
}

// AddScalar is a+v.
func (s *Scope) AddScalar(a *Tensor, v float64) *Tensor { return s.scalar("add", C.GS_ADDS, a, v) }

// MulScalar is a·v.
func (s *Scope) MulScalar(a *Tensor, v float64) *Tensor { return s.scalar("mul", C.GS_MULS, a, v) }

// Pow is a^v.
func (s *Scope) Pow(a *Tensor, v float64) *Tensor { return s.scalar("pow", C.GS_POWS, a, v) }

// ClampMin is max(a, v).
func (s *Scope) ClampMin(a *Tensor, v float64) *Tensor {
	return s.scalar("clamp_min", C.GS_CLAMP_MIN, a, v)
}

// ClampMax is min(a, v).
func (s *Scope) ClampMax(a *Tensor, v float64) *Tensor {
	return s.scalar("clamp_max", C.GS_CLAMP_MAX, a, v)
}

func (s *Scope) reduce(name string, op C.int, a *Tensor, dims []int64, keep bool) *Tensor {
	if !s.ok(name, a) {
		return &Tensor{}
	}
	k := 0
	if keep {
		k = 1
	}
	var out C.gs_tensor
	p := C.gs_reduce(s.grad(), op, a.h, shapePtr(dims), C.int(len(dims)), C.int(k), &out)
	return s.result(name, p, out, a)
}

// Sum adds over dims (all of them when none are given).
func (s *Scope) Sum(a *Tensor, keep bool, dims ...int64) *Tensor {
	return s.reduce("sum", C.GS_SUM, a, dims, keep)
}

// Mean averages over dims (all of them when none are given).
func (s *Scope) Mean(a *Tensor, keep bool, dims ...int64) *Tensor {
	return s.reduce("mean", C.GS_MEAN, a, dims, keep)
}

// Amax is the maximum over dims.
func (s *Scope) Amax(a *Tensor, keep bool, dims ...int64) *Tensor {
	return s.reduce("amax", C.GS_AMAX, a, dims, keep)
}

// Reshape returns a with a new shape (one dimension may be −1).
func (s *Scope) Reshape(a *Tensor, shape ...int64) *Tensor {
	if !s.ok("reshape", a) {
		return &Tensor{}
	}
	var out C.gs_tensor
	p := C.gs_reshape(s.grad(), a.h, shapePtr(shape), C.int(len(shape)), &out)
	return s.result(fmt.Sprintf("reshape to %v", shape), p, out, a)
}

// Permute reorders dimensions (the result is contiguous).
func (s *Scope) Permute(a *Tensor, dims ...int64) *Tensor {
	if !s.ok("permute", a) {
		return &Tensor{}
	}
	var out C.gs_tensor
	p := C.gs_permute(s.grad(), a.h, shapePtr(dims), C.int(len(dims)), &out)
	return s.result(fmt.Sprintf("permute %v", dims), p, out, a)
}

// Cat joins tensors along dim.
func (s *Scope) Cat(dim int64, ts ...*Tensor) *Tensor {
	if !s.ok("cat", ts...) {
		return &Tensor{}
	}
	if len(ts) == 0 {
		s.Fail(fmt.Errorf("torch: cat of no tensors"))
		return &Tensor{}
	}
	hs := handles(ts)
	var out C.gs_tensor
	p := C.gs_cat(s.grad(), &hs[0], C.int(len(hs)), C.int64_t(dim), &out)
	return s.result("cat", p, out, ts...)
}

// Narrow returns length entries of a along dim from start.
func (s *Scope) Narrow(a *Tensor, dim, start, length int64) *Tensor {
	if !s.ok("narrow", a) {
		return &Tensor{}
	}
	var out C.gs_tensor
	p := C.gs_narrow(s.grad(), a.h, C.int64_t(dim), C.int64_t(start), C.int64_t(length), &out)
	return s.result(fmt.Sprintf("narrow dim %d [%d:+%d]", dim, start, length), p, out, a)
}

// IndexSelect picks entries of a along dim by an int64 index tensor.
func (s *Scope) IndexSelect(a *Tensor, dim int64, index *Tensor) *Tensor {
	if !s.ok("index_select", a, index) {
		return &Tensor{}
	}
	var out C.gs_tensor
	p := C.gs_index_select(s.grad(), a.h, C.int64_t(dim), index.h, &out)
	return s.result("index_select", p, out, a, index)
}

// Matmul is the matrix product with batching and broadcasting.
func (s *Scope) Matmul(a, b *Tensor) *Tensor {
	if !s.ok("matmul", a, b) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result("matmul", C.gs_matmul(s.grad(), a.h, b.h, &out), out, a, b)
}

// Linear is x·wᵀ + b; b may be nil.
func (s *Scope) Linear(x, w, b *Tensor) *Tensor {
	if !s.ok("linear", x, w) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result("linear", C.gs_linear(s.grad(), x.h, w.h, optional(b), &out), out, x, w)
}

// Conv2d is a 2-D convolution of NCHW x by OIHW w; b may be nil.
func (s *Scope) Conv2d(x, w, b *Tensor, stride, pad, groups int64) *Tensor {
	if !s.ok("conv2d", x, w) {
		return &Tensor{}
	}
	var out C.gs_tensor
	p := C.gs_conv2d(s.grad(), x.h, w.h, optional(b), C.int64_t(stride), C.int64_t(pad), C.int64_t(groups), &out)
	return s.result("conv2d", p, out, x, w)
}

// AvgPool2d averages square windows.
func (s *Scope) AvgPool2d(x *Tensor, kernel, stride int64) *Tensor {
	return s.pool("avg_pool2d", C.GS_AVG_POOL, x, kernel, stride, 0)
}

// MaxPool2d takes the maximum of square windows.
func (s *Scope) MaxPool2d(x *Tensor, kernel, stride, pad int64) *Tensor {
	return s.pool("max_pool2d", C.GS_MAX_POOL, x, kernel, stride, pad)
}

func (s *Scope) pool(name string, op C.int, x *Tensor, kernel, stride, pad int64) *Tensor {
	if !s.ok(name, x) {
		return &Tensor{}
	}
	var out C.gs_tensor
	p := C.gs_pool2d(s.grad(), op, x.h, C.int64_t(kernel), C.int64_t(stride), C.int64_t(pad), &out)
	return s.result(name, p, out, x)
}

// UpsampleNearest resizes NCHW x to h×w by repeating pixels.
func (s *Scope) UpsampleNearest(x *Tensor, h, w int64) *Tensor {
	return s.upsample("upsample_nearest2d", x, h, w, 0)
}

// ResizeBilinear resizes NCHW x to h×w bilinearly (align_corners false);
// it is differentiable.
func (s *Scope) ResizeBilinear(x *Tensor, h, w int64) *Tensor {
	return s.upsample("upsample_bilinear2d", x, h, w, 1)
}

func (s *Scope) upsample(name string, x *Tensor, h, w int64, bilinear C.int) *Tensor {
	if !s.ok(name, x) {
		return &Tensor{}
	}
	var out C.gs_tensor
	p := C.gs_upsample(s.grad(), x.h, C.int64_t(h), C.int64_t(w), bilinear, &out)
	return s.result(name, p, out, x)
}

// BatchNorm normalises NC… x per channel. In training mode it uses batch
// statistics and updates mean and var in place (when given) with momentum;
// otherwise it uses mean and var. w and b (the affine part) may be nil.
func (s *Scope) BatchNorm(x, w, b, mean, variance *Tensor, training bool, momentum, eps float64) *Tensor {
	if !s.ok("batch_norm", x) {
		return &Tensor{}
	}
	tr := 0
	if training {
		tr = 1
	}
	var out C.gs_tensor
	p := C.gs_batch_norm(s.grad(), x.h, optional(w), optional(b), optional(mean), optional(variance),
		C.int(tr), C.double(momentum), C.double(eps), &out)
	return s.result("batch_norm", p, out, x)
}

// Softmax normalises exp(a) along dim.
func (s *Scope) Softmax(a *Tensor, dim int64) *Tensor { return s.softmax("softmax", 0, a, dim) }

// LogSoftmax is log(softmax(a)) computed stably.
func (s *Scope) LogSoftmax(a *Tensor, dim int64) *Tensor {
	return s.softmax("log_softmax", 1, a, dim)
}

func (s *Scope) softmax(name string, log C.int, a *Tensor, dim int64) *Tensor {
	if !s.ok(name, a) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result(name, C.gs_softmax(s.grad(), log, a.h, C.int64_t(dim), &out), out, a)
}

// CrossEntropy is the mean cross-entropy of (N, K) logits against int64
// class targets (N).
func (s *Scope) CrossEntropy(logits, target *Tensor) *Tensor {
	if !s.ok("cross_entropy", logits, target) {
		return &Tensor{}
	}
	var out C.gs_tensor
	p := C.gs_cross_entropy(s.grad(), logits.h, target.h, &out)
	return s.result("cross_entropy", p, out, logits, target)
}

// Embedding picks rows of w by an int64 index tensor.
func (s *Scope) Embedding(w, index *Tensor) *Tensor {
	if !s.ok("embedding", w, index) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result("embedding", C.gs_embedding(s.grad(), w.h, index.h, &out), out, w, index)
}

// Argmax is the index of the maximum along dim (int64).
func (s *Scope) Argmax(a *Tensor, dim int64) *Tensor {
	if !s.ok("argmax", a) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result("argmax", C.gs_argmax(a.h, C.int64_t(dim), &out), out, a)
}

func optional(t *Tensor) C.gs_tensor {
	if t == nil {
		return nil
	}
	return t.h
}
