// Package torch is ganshift's binding to libtorch: a thin C shim over ATen
// and autograd (shim.h), and a Go API in which every tensor has one owner
// and is freed deterministically.
//
// Building needs a C++17 compiler and libtorch (Debian: apt-get install
// libtorch-dev). To build against another libtorch, for example a CUDA one,
// point cgo at it:
//
//	CGO_CXXFLAGS="-I$LIBTORCH/include -I$LIBTORCH/include/torch/csrc/api/include" \
//	CGO_LDFLAGS="-L$LIBTORCH/lib -Wl,-rpath,$LIBTORCH/lib" go build ./cmd/ganshift
package torch

/*
#cgo CXXFLAGS: -std=c++17 -O2 -I/usr/include/torch/csrc/api/include -Wno-deprecated-declarations
#cgo LDFLAGS: -ltorch -ltorch_cpu -lc10 -lstdc++
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Device says where a tensor's memory lives.
type Device int

// The devices ganshift knows.
const (
	CPU  Device = C.GS_CPU
	CUDA Device = C.GS_CUDA
)

// ParseDevice reads "cpu" or "cuda". CUDA is accepted only when libtorch was
// built with it, so the error says so plainly.
func ParseDevice(name string) (Device, error) {
	switch name {
	case "", "cpu":
		return CPU, nil
	case "cuda":
		if C.gs_cuda_available() == 0 {
			return CPU, errors.New("torch: --device cuda needs ganshift built against a CUDA libtorch, and this one has no CUDA (see README, \"GPU\")")
		}
		return CUDA, nil
	}
	return CPU, fmt.Errorf("torch: unknown device %q (want cpu or cuda)", name)
}

func (d Device) String() string {
	if d == CUDA {
		return "cuda"
	}
	return "cpu"
}

// threads is the intra-op thread count asked for, 0 for libtorch's
// default.
var threads atomic.Int32

// device is where new tensors are made.
var device atomic.Int32

// SetDevice makes every tensor created from then on (parameters, inputs,
// optimizer state) live on d, so that whole networks run there. Results
// read back with Float32 or Int64 come to the host whatever the device.
func SetDevice(d Device) { device.Store(int32(d)) }

// DefaultDevice is where new tensors are made (CPU unless SetDevice).
func DefaultDevice() Device { return Device(device.Load()) }

// SetThreads sets libtorch's intra-op thread count. OpenMP keeps the count
// per OS thread, so every Scope applies it again on the thread it pins.
func SetThreads(n int) {
	if n > 0 {
		threads.Store(int32(n))
		C.gs_set_threads(C.int(n))
	}
}

// Threads reports libtorch's intra-op thread count.
func Threads() int { return int(C.gs_get_threads()) }

// Tensor owns one reference to an ATen tensor. A tensor made by a Scope is
// freed when the scope closes; any other tensor is freed by its owner with
// Free. The Go garbage collector never frees C++ memory.
type Tensor struct {
	h C.gs_tensor
}

func wrap(h C.gs_tensor) *Tensor { return &Tensor{h: h} }

// cerr turns a shim error string into a Go error and frees it.
func cerr(p *C.char) error {
	if p == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(p))
	return errors.New(C.GoString(p))
}

// FromFloat32 copies data into a new float32 tensor of the given shape.
func FromFloat32(data []float32, shape ...int64) (*Tensor, error) {
	return fromData(unsafe.Pointer(unsafe.SliceData(data)), len(data), C.GS_F32, shape, DefaultDevice())
}

// FromInt64 copies data into a new int64 tensor of the given shape.
func FromInt64(data []int64, shape ...int64) (*Tensor, error) {
	return fromData(unsafe.Pointer(unsafe.SliceData(data)), len(data), C.GS_I64, shape, DefaultDevice())
}

func fromData(p unsafe.Pointer, n int, dtype C.int, shape []int64, dev Device) (*Tensor, error) {
	if numel(shape) != int64(n) {
		return nil, fmt.Errorf("torch: %d values do not fill shape %v", n, shape)
	}
	var out C.gs_tensor
	err := cerr(C.gs_from_data(p, dtype, shapePtr(shape), C.int(len(shape)), C.int(dev), &out))
	runtime.KeepAlive(shape)
	if err != nil {
		return nil, fmt.Errorf("torch: from data %v: %w", shape, err)
	}
	return wrap(out), nil
}

// Full makes a float32 tensor filled with v.
func Full(v float64, shape ...int64) (*Tensor, error) {
	var out C.gs_tensor
	if err := cerr(C.gs_full(shapePtr(shape), C.int(len(shape)), C.double(v), C.int(DefaultDevice()), &out)); err != nil {
		return nil, fmt.Errorf("torch: full %v: %w", shape, err)
	}
	return wrap(out), nil
}

func shapePtr(shape []int64) *C.int64_t {
	if len(shape) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&shape[0]))
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// Free releases the tensor. It is idempotent, and a nil tensor is fine.
func (t *Tensor) Free() {
	if t == nil || t.h == nil {
		return
	}
	C.gs_free(t.h)
	t.h = nil
}

// Valid reports whether t still holds a tensor.
func (t *Tensor) Valid() bool { return t != nil && t.h != nil }

// Shape returns the tensor's dimensions.
func (t *Tensor) Shape() []int64 {
	if !t.Valid() {
		return nil
	}
	n := int(C.gs_ndim(t.h))
	dims := make([]int64, n)
	if n > 0 {
		C.gs_shape(t.h, (*C.int64_t)(unsafe.Pointer(&dims[0])))
	}
	return dims
}

// Numel is the number of elements.
func (t *Tensor) Numel() int64 { return numel(t.Shape()) }

// Device reports where the tensor lives.
func (t *Tensor) Device() Device {
	if !t.Valid() {
		return CPU
	}
	return Device(C.gs_device(t.h))
}

// Float32 copies the tensor's values, in row-major order, to Go memory.
func (t *Tensor) Float32() ([]float32, error) {
	if !t.Valid() {
		return nil, errors.New("torch: read of a freed tensor")
	}
	out := make([]float32, t.Numel())
	err := cerr(C.gs_copy_out(t.h, unsafe.Pointer(unsafe.SliceData(out)), C.GS_F32, C.int64_t(len(out))))
	if err != nil {
		return nil, fmt.Errorf("torch: read %v: %w", t.Shape(), err)
	}
	return out, nil
}

// Int64 copies the tensor's values, converted to int64, to Go memory.
func (t *Tensor) Int64() ([]int64, error) {
	if !t.Valid() {
		return nil, errors.New("torch: read of a freed tensor")
	}
	out := make([]int64, t.Numel())
	err := cerr(C.gs_copy_out(t.h, unsafe.Pointer(unsafe.SliceData(out)), C.GS_I64, C.int64_t(len(out))))
	if err != nil {
		return nil, fmt.Errorf("torch: read %v: %w", t.Shape(), err)
	}
	return out, nil
}

// Item returns the single value of a one-element tensor.
func (t *Tensor) Item() (float32, error) {
	v, err := t.Float32()
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("torch: item of a tensor of shape %v", t.Shape())
	}
	return v[0], nil
}

// CopyFrom overwrites t's values with src's, outside autograd. Shapes must
// match (or broadcast).
func (t *Tensor) CopyFrom(src *Tensor) error {
	if !t.Valid() || !src.Valid() {
		return errFreed("copy")
	}
	if err := cerr(C.gs_copy_(t.h, src.h)); err != nil {
		return fmt.Errorf("torch: copy %v into %v: %w", src.Shape(), t.Shape(), err)
	}
	return nil
}

// Version is t's in-place version counter, which every in-place write
// (CopyFrom, Lerp, an optimizer step) increases. A cache derived from t
// is current while the version is unchanged. A freed tensor reports -1.
func (t *Tensor) Version() int64 {
	if !t.Valid() {
		return -1
	}
	return int64(C.gs_version(t.h))
}

// Lerp moves t toward src in place: t += w·(src − t). It is how an
// exponential moving average of weights is kept.
func (t *Tensor) Lerp(src *Tensor, w float64) error {
	if !t.Valid() || !src.Valid() {
		return errFreed("lerp")
	}
	if err := cerr(C.gs_lerp_(t.h, src.h, C.double(w))); err != nil {
		return fmt.Errorf("torch: lerp %v toward %v: %w", t.Shape(), src.Shape(), err)
	}
	return nil
}

// To returns a copy of t on dev (a new tensor the caller owns).
func (t *Tensor) To(dev Device) (*Tensor, error) {
	if !t.Valid() {
		return nil, errFreed("move")
	}
	var out C.gs_tensor
	if err := cerr(C.gs_to_device(t.h, C.int(dev), &out)); err != nil {
		return nil, fmt.Errorf("torch: move %v to %s: %w", t.Shape(), dev, err)
	}
	return wrap(out), nil
}

// SetRequiresGrad marks t as a leaf whose gradient autograd accumulates.
func (t *Tensor) SetRequiresGrad(on bool) error {
	if !t.Valid() {
		return errFreed("requires grad")
	}
	v := 0
	if on {
		v = 1
	}
	return cerr(C.gs_set_requires_grad(t.h, C.int(v)))
}

// RequiresGrad reports whether autograd tracks t.
func (t *Tensor) RequiresGrad() bool { return t.Valid() && C.gs_requires_grad(t.h) != 0 }

// Grad returns a new handle to t's accumulated gradient, or nil if there is
// none. The caller frees it.
func (t *Tensor) Grad() (*Tensor, error) {
	if !t.Valid() {
		return nil, errFreed("grad")
	}
	var out C.gs_tensor
	if err := cerr(C.gs_grad(t.h, &out)); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, nil
	}
	return wrap(out), nil
}

// ClearGrad drops t's accumulated gradient.
func (t *Tensor) ClearGrad() {
	if t.Valid() {
		C.gs_clear_grad(t.h)
	}
}

// Backward runs autograd from the scalar t, accumulating into the .grad of
// every leaf that requires it.
func (t *Tensor) Backward() error {
	if !t.Valid() {
		return errors.New("torch: backward of a freed tensor")
	}
	if err := cerr(C.gs_backward(t.h)); err != nil {
		return fmt.Errorf("torch: backward from %v: %w", t.Shape(), err)
	}
	return nil
}

// BackwardWith runs autograd from t, of any shape, taking grad (t's shape)
// as the gradient of the loss with respect to t. It lets a computation run
// its backward in stages: the gradient of a later part, collected on a
// detached copy of t, is handed on to the part that produced t.
func (t *Tensor) BackwardWith(grad *Tensor) error {
	if !t.Valid() || !grad.Valid() {
		return errors.New("torch: backward of a freed tensor")
	}
	if err := cerr(C.gs_backward_with(t.h, grad.h)); err != nil {
		return fmt.Errorf("torch: backward from %v with gradient %v: %w", t.Shape(), grad.Shape(), err)
	}
	return nil
}

// handles returns the C handles of ts for calls that take arrays.
func handles(ts []*Tensor) []C.gs_tensor {
	hs := make([]C.gs_tensor, len(ts))
	for i, t := range ts {
		hs[i] = t.h
	}
	return hs
}

// ZeroGrads drops the gradients of all ts.
func ZeroGrads(ts []*Tensor) error {
	if len(ts) == 0 {
		return nil
	}
	for _, t := range ts {
		if !t.Valid() {
			return errFreed("zero grads")
		}
	}
	hs := handles(ts)
	return cerr(C.gs_zero_grads(&hs[0], C.int(len(hs))))
}

// errFreed reports a method called on a tensor that is freed or the result
// of a failed op (the C side would dereference a null handle).
func errFreed(op string) error {
	return fmt.Errorf("torch: %s: tensor is freed or the result of a failed op", op)
}
