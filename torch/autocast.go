package torch

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"os"
	"strings"
	"sync"
)

// BF16Supported reports whether the CPU computes bfloat16 natively
// (AVX512-BF16 or AMX-BF16, read from /proc/cpuinfo on Linux).
var BF16Supported = sync.OnceValue(func() bool {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(info), "\n") {
		if strings.HasPrefix(line, "flags") {
			for _, f := range strings.Fields(line) {
				if f == "avx512_bf16" || f == "amx_bf16" {
					return true
				}
			}
			return false
		}
	}
	return false
})

// ErrNoBF16 is SetAutocast's error on a CPU without bfloat16 support.
var ErrNoBF16 = errors.New("torch: bf16 autocast needs a CPU with AVX512-BF16 or AMX-BF16 (not found in /proc/cpuinfo); run without it")

// SetAutocast turns bfloat16 autocast on or off for the scope's later ops
// on the CPU: convolutions and matrix products run in bfloat16 (float32
// inputs and weights are cast on the fly, the stored weights stay
// float32), other ops in float32 or in their inputs' type. Their
// gradients are computed in the same types. Turn it off before Close, on
// the same scope; cast results back with Float. Turning it on records
// ErrNoBF16 as the scope's error on a CPU without bfloat16 support.
func (s *Scope) SetAutocast(on bool) {
	if on && !BF16Supported() {
		s.Fail(ErrNoBF16)
		return
	}
	v := 0
	if on {
		v = 1
	}
	C.gs_set_autocast_bf16(C.int(v))
}

// Float casts a to float32 (a no-op copy when it already is), keeping
// gradients flowing.
func (s *Scope) Float(a *Tensor) *Tensor {
	if !s.ok("to float", a) {
		return &Tensor{}
	}
	var out C.gs_tensor
	return s.result("to float", C.gs_to_float(s.grad(), a.h, &out), out, a)
}
