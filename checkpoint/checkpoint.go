// Package checkpoint reads and writes float32 tensors in the safetensors
// format (https://github.com/huggingface/safetensors).
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON header, then the raw little-endian tensor data. The header maps each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, where the
// offsets are relative to the start of the data; the optional key
// "__metadata__" maps to an object of string values.
package checkpoint

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"ganshift/internal/atomicfile"
)

// Tensor is a dense float32 tensor on the host, stored in row-major order.
// An empty Shape is a scalar holding one value.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// metadataKey is the header key holding the string metadata.
const metadataKey = "__metadata__"

// Save writes tensors and metadata to path in safetensors format,
// atomically (see atomicfile.Write). Tensors are stored in key order.
func Save(path string, tensors map[string]Tensor, meta map[string]string) error {
	l, err := plan(tensors, meta)
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		return l.write(w, tensors)
	})
}

// Encode returns tensors and metadata serialised in safetensors format.
// The result depends only on the arguments, not on map order.
func Encode(tensors map[string]Tensor, meta map[string]string) ([]byte, error) {
	l, err := plan(tensors, meta)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(8 + len(l.header) + int(l.dataLen))
	if err := l.write(&buf, tensors); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return buf.Bytes(), nil
}

// Load reads the safetensors file at path. Tensors stored as F32 are read
// as is; F16 and BF16 tensors are converted to float32. Other dtypes are an
// error. The returned metadata map is never nil.
func Load(path string) (map[string]Tensor, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	return Decode(path, data)
}

// Decode parses data in safetensors format, like Load. The name is used in
// error messages, typically the name of the file data was read from. The
// returned tensors do not share memory with data.
func Decode(name string, data []byte) (map[string]Tensor, map[string]string, error) {
	h, err := parseHeader(data)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %s: %w", name, err)
	}
	return h.tensors(data[8+h.size:]), h.meta, nil
}
