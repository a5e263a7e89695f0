package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"
)

// equalTensors reports whether a and b hold the same shapes and the same
// bits, treating nil and empty slices alike.
func equalTensors(a, b map[string]Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for k, ta := range a {
		tb, ok := b[k]
		if !ok || !slices.Equal(ta.Shape, tb.Shape) || len(ta.Data) != len(tb.Data) {
			return false
		}
		for i := range ta.Data {
			if math.Float32bits(ta.Data[i]) != math.Float32bits(tb.Data[i]) {
				return false
			}
		}
	}
	return true
}

func equalMeta(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

var roundTripTests = []struct {
	name    string
	tensors map[string]Tensor
	meta    map[string]string
}{
	{"empty", map[string]Tensor{}, nil},
	{
		name: "shapes",
		tensors: map[string]Tensor{
			"linear.weight": {Shape: []int64{2, 3}, Data: []float32{1, -2, 3.5, 0, float32(math.Inf(-1)), -0.0}},
			"linear.bias":   {Shape: []int64{2}, Data: []float32{0.125, math.MaxFloat32}},
			"scalar":        {Shape: []int64{}, Data: []float32{42}},
			"nil scalar":    {Data: []float32{-7}},
			"zero":          {Shape: []int64{0, 4}, Data: nil},
			"4d":            {Shape: []int64{1, 2, 1, 2}, Data: []float32{1, 2, 3, 4}},
			"nan":           {Shape: []int64{1}, Data: []float32{float32(math.NaN())}},
		},
	},
	{
		name:    "metadata",
		tensors: map[string]Tensor{"w": {Shape: []int64{1}, Data: []float32{1}}},
		meta:    map[string]string{"step": "1200", "arch": "biggan", "quote": `a "b" <c> & é`, "": "empty key"},
	},
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, tt := range roundTripTests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Encode(tt.tensors, tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			if got := binary.LittleEndian.Uint64(data); got%8 != 0 {
				t.Errorf("header length %d is not a multiple of 8", got)
			}
			tensors, meta, err := Decode("x", data)
			if err != nil {
				t.Fatal(err)
			}
			if !equalTensors(tensors, tt.tensors) {
				t.Errorf("tensors = %v, want %v", tensors, tt.tensors)
			}
			if !equalMeta(meta, tt.meta) || meta == nil {
				t.Errorf("metadata = %#v, want %v (non-nil)", meta, tt.meta)
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, tt := range roundTripTests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "G.safetensors")
			if err := Save(path, tt.tensors, tt.meta); err != nil {
				t.Fatal(err)
			}
			tensors, meta, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !equalTensors(tensors, tt.tensors) {
				t.Errorf("tensors = %v, want %v", tensors, tt.tensors)
			}
			if !equalMeta(meta, tt.meta) {
				t.Errorf("metadata = %v, want %v", meta, tt.meta)
			}
			want, err := Encode(tt.tensors, tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
				t.Errorf("file differs from Encode output")
			}
		})
	}
}

func TestEncodeDeterministic(t *testing.T) {
	tensors := map[string]Tensor{}
	meta := map[string]string{}
	for _, k := range strings.Fields("a b c d e f g h i j k l m n o p") {
		tensors[k] = Tensor{Shape: []int64{1}, Data: []float32{float32(len(tensors))}}
		meta[k] = k + k
	}
	first, err := Encode(tensors, meta)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		again, err := Encode(tensors, meta)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("Encode output differs between calls:\n%q\n%q", first, again)
		}
	}
}

// TestEncodeExact pins the serialised bytes of a small file.
func TestEncodeExact(t *testing.T) {
	data, err := Encode(map[string]Tensor{
		"b": {Shape: []int64{}, Data: []float32{0.5}},
		"a": {Shape: []int64{2}, Data: []float32{1, -2}},
	}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	header := `{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	want := []byte{byte(len(header)), 0, 0, 0, 0, 0, 0, 0}
	want = append(want, header...)
	want = append(want, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f)
	if !bytes.Equal(data, want) {
		t.Errorf("Encode =\n%q\nwant\n%q", data, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		tensors map[string]Tensor
		want    string
	}{
		{"too few values", map[string]Tensor{"w": {Shape: []int64{2, 2}, Data: []float32{1, 2, 3}}}, `tensor "w": shape [2 2] has 4 elements but data has 3`},
		{"scalar without value", map[string]Tensor{"s": {Shape: []int64{}}}, `tensor "s": shape [] has 1 elements but data has 0`},
		{"negative dimension", map[string]Tensor{"n": {Shape: []int64{-1}}}, `tensor "n": shape [-1] has a negative dimension`},
		{"overflow", map[string]Tensor{"o": {Shape: []int64{1 << 40, 1 << 40}}}, `tensor "o": shape [1099511627776 1099511627776] is too large`},
		{"reserved name", map[string]Tensor{"__metadata__": {Data: []float32{1}}}, `tensor "__metadata__": name is reserved`},
		{"invalid UTF-8", map[string]Tensor{"\xff": {Data: []float32{1}}}, `tensor "\xff": name is not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(tt.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode error = %v, want it to contain %q", err, tt.want)
			}
			path := filepath.Join(t.TempDir(), "G.safetensors")
			err = Save(path, tt.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), path+": "+tt.want) {
				t.Errorf("Save error = %v, want it to contain %q", err, path+": "+tt.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("Save left a file behind (stat error %v)", err)
			}
		})
	}
}

// TestLoadReference reads files written by hand from the format description.
func TestLoadReference(t *testing.T) {
	tests := []struct {
		file string
		want map[string]Tensor
		meta map[string]string
	}{
		{
			file: "ref_f32.safetensors",
			want: map[string]Tensor{
				"b": {Shape: []int64{}, Data: []float32{0.5}},
				"a": {Shape: []int64{2, 2}, Data: []float32{1, -2, 0.25, 3.5}},
				"z": {Shape: []int64{0, 3}, Data: []float32{}},
			},
			meta: map[string]string{"format": "pt", "step": "100"},
		},
		{
			file: "ref_half.safetensors",
			want: map[string]Tensor{
				"h":  {Shape: []int64{4}, Data: []float32{1, -2, 65504, 1.0 / (1 << 24)}},
				"bf": {Shape: []int64{2}, Data: []float32{1, -0.5}},
			},
			meta: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tensors, meta, err := Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !equalTensors(tensors, tt.want) {
				t.Errorf("tensors = %v, want %v", tensors, tt.want)
			}
			if !equalMeta(meta, tt.meta) {
				t.Errorf("metadata = %v, want %v", meta, tt.meta)
			}
		})
	}
}

func TestLoadBroken(t *testing.T) {
	tests := []struct {
		file string
		want string // substring of the error after the file name
	}{
		{"short", "file is 5 bytes, too short"},
		{"header_too_long", "header length 1000 exceeds the 8 bytes after it"},
		{"text", "not a safetensors file (its first 8 bytes give a header length of"},
		{"bad_json", `header: key "a": unexpected EOF`},
		{"not_object", "header: does not start with '{'"},
		{"truncated", `tensor "a": data_offsets [4 20] out of range [0, 14]`},
		{"bad_offsets", `tensor "a": data_offsets [8 4] out of range`},
		{"overlap", `tensor "b": data_offsets [4 12] overlap tensor "a"`},
		{"gap", `tensor "b": data_offsets [8 12] leave bytes [4, 8) unused`},
		{"trailing", "4 bytes of data after the last tensor"},
		{"shape_mismatch", `tensor "a": shape [3] of F32 needs 12 bytes but data_offsets [0 8] span 8`},
		{"negative_dim", `tensor "a": shape [-2] has a negative dimension`},
		{"missing_shape", `tensor "a": missing "shape"`},
		{"unknown_field", `tensor "a": json: unknown field "extra"`},
		{"bad_dtype", `tensor "a": unknown dtype "F99"`},
		{"unsupported_dtype", `tensor "a": dtype I64 is not supported`},
		{"duplicate_key", `header: duplicate key "a"`},
		{"bad_metadata", "__metadata__: json: cannot unmarshal number"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file+".safetensors")
			_, _, err := Load(path)
			want := "checkpoint: " + path + ": " + tt.want
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load error = %v, want prefix %q", err, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "none.safetensors"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load error = %v, want a not-exist error", err)
	}
}

// TestDecodeTruncations checks that every prefix of a valid file is
// rejected rather than misread or causing a panic.
func TestDecodeTruncations(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "ref_f32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, _, err := Decode("prefix", data[:n]); err == nil {
			t.Errorf("Decode of the first %d of %d bytes succeeded", n, len(data))
		}
	}
}

func TestHalfToFloat32(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0},
		{0x3c00, 1},
		{0xc000, -2},
		{0x3555, 0.333251953125},
		{0x7bff, 65504},
		{0x0400, 1.0 / (1 << 14)},               // smallest normal
		{0x03ff, 1023.0 / (1 << 24)},            // largest subnormal
		{0x8001, -1.0 / (1 << 24)},              // smallest negative subnormal
		{0x7c00, float32(math.Inf(1))},          // +inf
		{0xfc00, float32(math.Inf(-1))},         // -inf
		{0x8000, float32(math.Copysign(0, -1))}, // -0
	}
	for _, tt := range tests {
		got := halfToFloat32(tt.h)
		if math.Float32bits(got) != math.Float32bits(tt.want) {
			t.Errorf("halfToFloat32(%#04x) = %g, want %g", tt.h, got, tt.want)
		}
	}
	if got := halfToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("halfToFloat32(0x7e00) = %g, want NaN", got)
	}
}

// TestInterop checks Encode output against an independent safetensors
// implementation.
func TestInterop(t *testing.T) {
	for _, tt := range roundTripTests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Encode(tt.tensors, tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			st, err := safetensors.Deserialize(data)
			if err != nil {
				t.Fatalf("safetensors.Deserialize: %v", err)
			}
			got := map[string]Tensor{}
			for _, nt := range st.Tensors() {
				v := nt.TensorView
				if v.DType() != safetensors.F32 {
					t.Errorf("tensor %q: dtype %s, want F32", nt.Name, v.DType())
				}
				shape := make([]int64, len(v.Shape()))
				for i, d := range v.Shape() {
					shape[i] = int64(d)
				}
				values := make([]float32, len(v.Data())/4)
				decodeF32(values, v.Data())
				got[nt.Name] = Tensor{Shape: shape, Data: values}
			}
			want := map[string]Tensor{}
			for k, tv := range tt.tensors {
				if tv.Shape == nil {
					tv.Shape = []int64{}
				}
				want[k] = tv
			}
			if !equalTensors(got, want) {
				t.Errorf("tensors = %v, want %v", got, want)
			}
			_, md, err := safetensors.ReadMetadata(data)
			if err != nil {
				t.Fatalf("safetensors.ReadMetadata: %v", err)
			}
			if !equalMeta(md.Metadata(), tt.meta) {
				t.Errorf("metadata = %v, want %v", md.Metadata(), tt.meta)
			}
		})
	}
}

// TestDecodeLibraryOutput decodes a file written by an independent
// safetensors implementation.
func TestDecodeLibraryOutput(t *testing.T) {
	values := []float32{1, -2, 3, 0.5, 0, 1e-3}
	var raw []byte
	for _, v := range values {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	w, err := safetensors.NewTensorView(safetensors.F32, []uint64{2, 3}, raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := safetensors.NewTensorView(safetensors.F32, []uint64{2}, raw[:8])
	if err != nil {
		t.Fatal(err)
	}
	data, err := safetensors.Serialize(map[string]safetensors.TensorView{"w": w, "b": b}, map[string]string{"step": "7"})
	if err != nil {
		t.Fatal(err)
	}
	tensors, meta, err := Decode("lib", data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Tensor{
		"w": {Shape: []int64{2, 3}, Data: values},
		"b": {Shape: []int64{2}, Data: values[:2]},
	}
	if !equalTensors(tensors, want) {
		t.Errorf("tensors = %v, want %v", tensors, want)
	}
	if !equalMeta(meta, map[string]string{"step": "7"}) {
		t.Errorf("metadata = %v, want step=7", meta)
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// survives a round trip through Encode.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.safetensors"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tensors, meta, err := Decode("fuzz", data)
		if err != nil {
			return
		}
		again, err := Encode(tensors, meta)
		if err != nil {
			t.Fatalf("Encode of decoded data: %v", err)
		}
		tensors2, meta2, err := Decode("again", again)
		if err != nil {
			t.Fatalf("Decode of re-encoded data: %v", err)
		}
		if !equalTensors(tensors, tensors2) || !equalMeta(meta, meta2) {
			t.Errorf("round trip changed the content")
		}
	})
}

func TestEncodeBadMetadata(t *testing.T) {
	_, err := Encode(nil, map[string]string{"k": "\xfe"})
	want := `checkpoint: metadata "k": invalid UTF-8`
	if err == nil || err.Error() != want {
		t.Errorf("Encode error = %v, want %q", err, want)
	}
}
