package torch

/*
#include <malloc.h>
*/
import "C"

import "os"

// The glibc allocator settings init applies: blocks up to mmapThreshold
// come from the heap, and up to trimThreshold of free memory at the heap's
// top stays mapped.
const (
	mmapThreshold = 32 << 20
	trimThreshold = 64 << 20
)

// init tunes glibc's allocator, which libtorch's CPU tensors come from.
// By default glibc raises its mmap threshold step by step as large blocks
// are freed and trims the heap top whenever more than twice that is free;
// a training step frees and reallocates the same sizes every iteration, so
// memory went back to the kernel and was faulted in again each step (the
// demo's 32×32 step spent about a sixth of its time in page faults).
// Fixing both thresholds keeps a step's blocks mapped between steps. The
// peak is about the same (a full-width 128×128 step: 5.3 GB against 5.2 GB
// with the defaults); blocks over 32 MB still get their own mappings,
// which keeps them out of the heap's fragmentation. A user who sets glibc's
// own variables (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or
// GLIBC_TUNABLES) keeps them.
func init() {
	for _, v := range []string{"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"} {
		if os.Getenv(v) != "" {
			return
		}
	}
	C.mallopt(C.M_MMAP_THRESHOLD, mmapThreshold)
	C.mallopt(C.M_TRIM_THRESHOLD, trimThreshold)
}
