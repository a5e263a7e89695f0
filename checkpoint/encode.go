package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"
)

// layout is the serialised form of a set of tensors, less the data.
type layout struct {
	keys    []string // tensor names in storage order
	header  []byte   // JSON header, padded with spaces to a multiple of 8
	dataLen int64    // total size of the tensor data in bytes
}

// plan validates tensors and meta and lays them out: tensors sorted by key,
// stored back to back as little-endian F32.
func plan(tensors map[string]Tensor, meta map[string]string) (*layout, error) {
	l := &layout{keys: make([]string, 0, len(tensors))}
	for k := range tensors {
		l.keys = append(l.keys, k)
	}
	slices.Sort(l.keys)

	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("metadata %q: invalid UTF-8", k)
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if len(meta) > 0 {
		writeJSON(&b, metadataKey)
		b.WriteByte(':')
		writeJSON(&b, meta) // map keys are sorted by encoding/json
	}
	for _, k := range l.keys {
		if err := l.add(&b, k, tensors[k]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	l.header = b.Bytes()
	return l, nil
}

// add appends the header entry of tensor t named k to b.
func (l *layout) add(b *bytes.Buffer, k string, t Tensor) error {
	switch {
	case k == metadataKey:
		return fmt.Errorf("tensor %q: name is reserved for metadata", k)
	case !utf8.ValidString(k):
		return fmt.Errorf("tensor %q: name is not valid UTF-8", k)
	}
	n, err := numElements(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", k, err)
	}
	if n != int64(len(t.Data)) {
		return fmt.Errorf("tensor %q: shape %v has %d elements but data has %d", k, t.Shape, n, len(t.Data))
	}
	shape := t.Shape
	if shape == nil {
		shape = []int64{} // a scalar: encode [] rather than null
	}
	if b.Len() > 1 {
		b.WriteByte(',')
	}
	begin, end := l.dataLen, l.dataLen+4*n
	writeJSON(b, k)
	b.WriteString(`:{"dtype":"F32","shape":`)
	writeJSON(b, shape)
	fmt.Fprintf(b, `,"data_offsets":[%d,%d]}`, begin, end)
	l.dataLen = end
	return nil
}

// writeJSON appends the JSON encoding of v, which cannot fail for the
// strings, string maps and integer slices it is used with.
func writeJSON(b *bytes.Buffer, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	b.Write(data)
}

// numElements returns the number of elements of a tensor of the given
// shape: the product of its dimensions, 1 for a scalar.
func numElements(shape []int64) (int64, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d == 0 {
			return 0, nil
		}
	}
	n := int64(1)
	for _, d := range shape {
		if n > math.MaxInt64/4/d {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// write writes the header length, the header and the data of tensors,
// which must be the tensors l was planned from.
func (l *layout) write(w io.Writer, tensors map[string]Tensor) error {
	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], uint64(len(l.header)))
	if _, err := w.Write(size[:]); err != nil {
		return err
	}
	if _, err := w.Write(l.header); err != nil {
		return err
	}
	buf := make([]byte, 0, 16<<10)
	for _, k := range l.keys {
		for _, v := range tensors[k].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err := w.Write(buf)
	return err
}
