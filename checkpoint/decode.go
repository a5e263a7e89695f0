package checkpoint

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// maxHeaderSize bounds the JSON header, as the reference implementation does.
const maxHeaderSize = 100_000_000

// header is a parsed and validated safetensors header.
type header struct {
	size    int64 // length of the JSON header in bytes
	entries []entry
	meta    map[string]string
}

// entry is the header record of one tensor.
type entry struct {
	name        string
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// dtype describes a supported element type.
type dtype struct {
	size   int64
	decode func(dst []float32, src []byte)
}

// dtypes are the element types Decode converts to float32.
var dtypes = map[string]dtype{
	"F32":  {4, decodeF32},
	"F16":  {2, decodeF16},
	"BF16": {2, decodeBF16},
}

// otherDTypes are the remaining element types of the format.
var otherDTypes = []string{"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "I32", "U32", "F64", "I64", "U64"}

// parseHeader reads the header length and the JSON header of data and
// checks every entry against the size of the data that follows.
func parseHeader(data []byte) (*header, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeaderSize {
		return nil, fmt.Errorf("not a safetensors file (its first 8 bytes give a header length of %d, over the limit of %d)", n, maxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("header length %d exceeds the %d bytes after it", n, len(data)-8)
	}
	h := &header{size: int64(n), meta: map[string]string{}}
	if err := h.parseJSON(data[8 : 8+n]); err != nil {
		return nil, err
	}
	if err := h.check(int64(len(data)) - 8 - h.size); err != nil {
		return nil, err
	}
	return h, nil
}

// parseJSON decodes the JSON header object, rejecting duplicate keys.
func (h *header) parseJSON(js []byte) error {
	if len(js) == 0 || js[0] != '{' {
		return errors.New("header: does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.Token() // the '{' checked above
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("header: %w", err)
		}
		key := tok.(string) // object keys are always strings
		if seen[key] {
			return fmt.Errorf("header: duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("header: key %q: %w", key, err)
		}
		if err := h.add(key, raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("header: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("header: data after the JSON object")
	}
	return nil
}

// add records the header value raw of key.
func (h *header) add(key string, raw json.RawMessage) error {
	if key == metadataKey {
		if err := json.Unmarshal(raw, &h.meta); err != nil {
			return fmt.Errorf("%s: %w", metadataKey, err)
		}
		if h.meta == nil { // "__metadata__": null
			h.meta = map[string]string{}
		}
		return nil
	}
	e := entry{name: key}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return fmt.Errorf("tensor %q: %w", key, err)
	}
	h.entries = append(h.entries, e)
	return nil
}

// check validates every entry and checks that the entries cover the
// dataLen bytes of data exactly, without gaps or overlaps.
func (h *header) check(dataLen int64) error {
	for _, e := range h.entries {
		if err := e.check(dataLen); err != nil {
			return fmt.Errorf("tensor %q: %w", e.name, err)
		}
	}
	slices.SortFunc(h.entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin(), b.begin()), cmp.Compare(a.end(), b.end()), cmp.Compare(a.name, b.name))
	})
	var pos int64
	for i, e := range h.entries {
		switch {
		case e.begin() < pos:
			return fmt.Errorf("tensor %q: data_offsets %v overlap tensor %q", e.name, e.DataOffsets, h.entries[i-1].name)
		case e.begin() > pos:
			return fmt.Errorf("tensor %q: data_offsets %v leave bytes [%d, %d) unused", e.name, e.DataOffsets, pos, e.begin())
		}
		pos = e.end()
	}
	if pos != dataLen {
		return fmt.Errorf("%d bytes of data after the last tensor", dataLen-pos)
	}
	return nil
}

func (e *entry) begin() int64 { return e.DataOffsets[0] }
func (e *entry) end() int64   { return e.DataOffsets[1] }

// check validates the dtype, shape and offsets of e against dataLen.
func (e *entry) check(dataLen int64) error {
	dt, ok := dtypes[e.DType]
	switch {
	case e.DType == "":
		return errors.New(`missing "dtype"`)
	case !ok && slices.Contains(otherDTypes, e.DType):
		return fmt.Errorf("dtype %s is not supported (want F32, F16 or BF16)", e.DType)
	case !ok:
		return fmt.Errorf("unknown dtype %q", e.DType)
	case e.Shape == nil:
		return errors.New(`missing "shape"`)
	case len(e.DataOffsets) != 2:
		return fmt.Errorf(`"data_offsets" %v: want [begin, end]`, e.DataOffsets)
	case e.begin() < 0 || e.end() < e.begin() || e.end() > dataLen:
		return fmt.Errorf("data_offsets %v out of range [0, %d]", e.DataOffsets, dataLen)
	}
	n, err := numElements(e.Shape)
	if err != nil {
		return err
	}
	if size := e.end() - e.begin(); n*dt.size != size {
		return fmt.Errorf("shape %v of %s needs %d bytes but data_offsets %v span %d", e.Shape, e.DType, n*dt.size, e.DataOffsets, size)
	}
	return nil
}

// tensors converts the data of every entry of h to float32.
func (h *header) tensors(data []byte) map[string]Tensor {
	out := make(map[string]Tensor, len(h.entries))
	for _, e := range h.entries {
		dt := dtypes[e.DType]
		src := data[e.begin():e.end()]
		t := Tensor{Shape: e.Shape, Data: make([]float32, int64(len(src))/dt.size)}
		dt.decode(t.Data, src)
		out[e.name] = t
	}
	return out
}

func decodeF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func decodeBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
}

func decodeF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = halfToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN, keeping the payload
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	}
	// zero or subnormal: frac × 2^-24
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
