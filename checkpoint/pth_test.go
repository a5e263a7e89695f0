package checkpoint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mixedState is what tools/reference/make_pth_fixtures.py saves in
// testdata/pth/legacy_cuda.pth (with a "module." prefix) and zip.pth.
var mixedState = map[string]Tensor{
	"a":    {Shape: []int64{2, 3}, Data: []float32{1, -2, 0.25, 3.5, 0, -0.125}},
	"t":    {Shape: []int64{3, 2}, Data: []float32{1, 3.5, -2, 0, 0.25, -0.125}},
	"base": {Shape: []int64{10}, Data: []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
	"v":    {Shape: []int64{2, 2}, Data: []float32{4, 5, 6, 7}},
	"h":    {Shape: []int64{4}, Data: []float32{1, -2, 65504, 1.0 / (1 << 24)}},
	"bf":   {Shape: []int64{2}, Data: []float32{1, -0.5}},
	"f64":  {Shape: []int64{3}, Data: []float32{0.1, -1e10, 3}},
	"n":    {Shape: []int64{}, Data: []float32{7}},
	"s":    {Shape: []int64{}, Data: []float32{0.5}},
	"e":    {Shape: []int64{0, 3}, Data: []float32{}},
}

func TestLoadPth(t *testing.T) {
	tests := []struct {
		file string
		want map[string]Tensor
	}{
		// Legacy format, storages tagged cuda:0, keys prefixed "module.".
		{"legacy_cuda.pth", mixedState},
		{"zip.pth", mixedState},
		// A plain dict pickled with protocol 4 (framed).
		{"legacy_dict_proto4.pth", map[string]Tensor{"w": {Shape: []int64{1, 2}, Data: []float32{1.5, -1.5}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := LoadPth(filepath.Join("testdata", "pth", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !equalTensors(got, tt.want) {
				for k, w := range tt.want {
					if g, ok := got[k]; !ok || !slices.Equal(g.Shape, w.Shape) || !slices.Equal(g.Data, w.Data) {
						t.Errorf("%q = %+v (present %v), want %+v", k, g, ok, w)
					}
				}
				t.Errorf("keys %v, want %v", sortedNames(got), sortedNames(tt.want))
			}
		})
	}
}

func sortedNames(m map[string]Tensor) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestLoadPthErrors(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	td := func(name string) string { return filepath.Join("testdata", "pth", name) }
	tests := []struct {
		name string
		path string
		want []string // substrings of the error besides the path
	}{
		{"directory", dir, []string{"is a directory"}},
		{"empty", mk("empty.pth", nil), []string{"empty file"}},
		{"text", mk("text.pth", []byte("hello, world")), []string{"not a PyTorch checkpoint", "68 65 6c 6c"}},
		// gopickle's own pytorch loader never returns on this one.
		{"zeros", mk("zeros.pth", make([]byte, 1024)), []string{"not a PyTorch checkpoint"}},
		{"truncated legacy", td("truncated_legacy.pth"), []string{"unexpected EOF", "truncated"}},
		{"truncated zip", td("truncated_zip.pth"), []string{"zip", "truncated"}},
		{"wrong element count", td("wrong_count.pth"), []string{"holds 7 values, the pickle says 6"}},
		{"list", td("list.pth"), []string{"not a state dict"}},
		{"non-tensor value", td("not_tensor.pth"), []string{`"step"`, "not a tensor"}},
		{"bad magic", td("bad_magic.pth"), []string{"12345", "not PyTorch's magic number"}},
		{"zip without pickle", td("zip_no_pickle.pth"), []string{"without a data.pkl"}},
		{"pickle opcodes only", mk("junk.pth", []byte{0x80, 0x02, 0xff, 0xff}), []string{"pickle"}},
	}
	missing := filepath.Join(dir, "nope.pth")
	if _, err := LoadPth(missing); err == nil || err.Error() != "checkpoint: open "+missing+": no such file or directory" {
		t.Errorf("LoadPth(%s): %v", missing, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadPth(tt.path)
			if err == nil {
				t.Fatalf("LoadPth(%s) = %d tensors, want an error", tt.path, len(got))
			}
			msg := err.Error()
			for _, w := range append([]string{"checkpoint: " + tt.path + ": "}, tt.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestStripPrefix(t *testing.T) {
	one := Tensor{Shape: []int64{1}, Data: []float32{1}}
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{"module.a", "module.b.c"}, []string{"a", "b.c"}},
		{[]string{"module.a", "b"}, []string{"b", "module.a"}}, // not all prefixed: kept
		{[]string{"modules.a"}, []string{"modules.a"}},
		{nil, nil},
	}
	for _, tt := range tests {
		in := map[string]Tensor{}
		for _, k := range tt.in {
			in[k] = one
		}
		if got := sortedNames(stripPrefix(in, "module.")); !slices.Equal(got, tt.want) {
			t.Errorf("stripPrefix(%v) keys %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestGatherStrided(t *testing.T) {
	st := &pthStorage{key: "0", numel: 12, data: []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}
	tests := []struct {
		name           string
		offset         int64
		size, stride   []int64
		want           []float32
		wantErr        string
		viewOff, viewN int64
	}{
		{name: "contiguous", size: []int64{3, 4}, stride: []int64{4, 1}, want: st.data},
		{name: "transpose", size: []int64{2, 3}, stride: []int64{1, 2}, offset: 6, want: []float32{6, 8, 10, 7, 9, 11}},
		{name: "column", size: []int64{3, 1}, stride: []int64{4, 99}, offset: 1, want: []float32{1, 5, 9}},
		{name: "broadcast", size: []int64{2, 2}, stride: []int64{0, 1}, offset: 10, want: []float32{10, 11, 10, 11}},
		{name: "storage view", size: []int64{2}, stride: []int64{1}, offset: 1, viewOff: 4, viewN: 4, want: []float32{5, 6}},
		{name: "past the end", size: []int64{3, 4}, stride: []int64{4, 1}, offset: 1, wantErr: "beyond the 12 values"},
		{name: "past the view", size: []int64{4}, stride: []int64{1}, offset: 1, viewOff: 4, viewN: 4, wantErr: "beyond the 4 values"},
		{name: "negative stride", size: []int64{2}, stride: []int64{-1}, offset: 3, wantErr: "negative stride"},
		{name: "huge broadcast", size: []int64{1 << 20, 1 << 20}, stride: []int64{0, 0}, wantErr: "more than the 12 of storage"},
		{name: "overflow", size: []int64{1 << 40, 1 << 40}, stride: []int64{0, 0}, wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.viewN
			if n == 0 {
				n = st.numel
			}
			pt := &pthTensor{ref: &pthStorageRef{st: st, offset: tt.viewOff, numel: n}, offset: tt.offset, size: tt.size, stride: tt.stride}
			got, err := pt.float32()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Data, tt.want) || !slices.Equal(got.Shape, tt.size) {
				t.Errorf("got %v %v, want %v %v", got.Shape, got.Data, tt.size, tt.want)
			}
		})
	}
}

func TestDecodeIntegers(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]float32, []byte)
		src    []byte
		want   []float32
	}{
		{"f64", decodeF64, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0xbf}, []float32{-1}},
		{"i64", decodeI64, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, []float32{-2}},
		{"i32", decodeI32, []byte{0x00, 0x01, 0x00, 0x00}, []float32{256}},
		{"i16", decodeI16, []byte{0xff, 0xff}, []float32{-1}},
		{"i8", decodeI8, []byte{0x80}, []float32{-128}},
		{"u8", decodeU8, []byte{0x80, 1}, []float32{128, 1}},
	}
	for _, tt := range tests {
		got := make([]float32, len(tt.want))
		tt.decode(got, tt.src)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestGatherMissingData: a storage the pickle names but whose data never
// came is an error, not a crash.
func TestGatherMissingData(t *testing.T) {
	st := &pthStorage{key: "7", numel: 4}
	pt := &pthTensor{ref: &pthStorageRef{st: st, numel: 4}, size: []int64{4}, stride: []int64{1}}
	if _, err := pt.float32(); err == nil || !strings.Contains(err.Error(), `storage "7" has 0 values, not the 4`) {
		t.Errorf("error %v", err)
	}
}

// FuzzLoadPth: no input may crash or hang the reader; whatever it accepts
// has data matching every shape.
func FuzzLoadPth(f *testing.F) {
	for _, name := range []string{"legacy_cuda.pth", "zip.pth", "legacy_dict_proto4.pth", "wrong_count.pth"} {
		data, err := os.ReadFile(filepath.Join("testdata", "pth", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	path := filepath.Join(f.TempDir(), "fuzz.pth")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		state, err := LoadPth(path)
		if err != nil {
			return
		}
		for k, v := range state {
			n := int64(1)
			for _, d := range v.Shape {
				n *= d
			}
			if int64(len(v.Data)) != n {
				t.Errorf("%q: %d values for shape %v", k, len(v.Data), v.Shape)
			}
		}
	})
}
