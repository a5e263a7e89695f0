package torch

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Adam is the Adam optimizer over a fixed list of parameters. Its moments
// live in libtorch; one Step is one cgo call.
type Adam struct {
	Params []*Tensor
	M, V   []*Tensor
	Steps  int64
	LR     float64
	Beta1  float64
	Beta2  float64
	Eps    float64
}

// NewAdam makes an optimizer with zero moments for params.
func NewAdam(params []*Tensor, lr, beta1, beta2, eps float64) (*Adam, error) {
	a := &Adam{Params: params, LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps}
	for _, p := range params {
		m, err := Full(0, p.Shape()...)
		if err != nil {
			a.Free()
			return nil, err
		}
		v, err := Full(0, p.Shape()...)
		if err != nil {
			m.Free()
			a.Free()
			return nil, err
		}
		a.M = append(a.M, m)
		a.V = append(a.V, v)
	}
	return a, nil
}

// Step applies one update from the parameters' gradients, then drops the
// gradients. Parameters without a gradient are left as they are.
func (a *Adam) Step() error {
	if len(a.Params) == 0 {
		return errors.New("torch: adam: no parameters")
	}
	for _, t := range a.Params {
		if !t.Valid() {
			return errFreed("adam")
		}
	}
	a.Steps++
	ps, ms, vs := handles(a.Params), handles(a.M), handles(a.V)
	err := cerr(C.gs_adam_step(&ps[0], &ms[0], &vs[0], C.int(len(ps)), C.int64_t(a.Steps),
		C.double(a.LR), C.double(a.Beta1), C.double(a.Beta2), C.double(a.Eps)))
	if err != nil {
		return fmt.Errorf("torch: adam step %d: %w", a.Steps, err)
	}
	return ZeroGrads(a.Params)
}

// Minimize backpropagates the scalar loss, made in scope s, and takes one
// step, returning the loss's value. The scope's first error, if any, comes
// back instead.
func (a *Adam) Minimize(s *Scope, loss *Tensor) (float32, error) {
	if err := s.Err(); err != nil {
		return 0, err
	}
	v, err := loss.Item()
	if err != nil {
		return 0, err
	}
	if err := loss.Backward(); err != nil {
		return 0, err
	}
	return v, a.Step()
}

// Free releases the moments (not the parameters).
func (a *Adam) Free() {
	for _, t := range a.M {
		t.Free()
	}
	for _, t := range a.V {
		t.Free()
	}
	a.M, a.V = nil, nil
}
