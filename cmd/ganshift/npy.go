package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio"

	"ganshift/internal/atomicfile"
)

// npyFile is a NumPy .npy array read whole, as float64 or int64 values in
// C order.
type npyFile struct {
	path  string
	flag  string // the flag that named it, for errors: "--z"
	dtype string // NumPy's name: "float32", "int64"
	shape []int
	f     []float64 // the values of a float array
	i     []int64   // the values of an integer array
}

// npyKinds are the element types read, by NumPy type code.
var npyKinds = map[string]string{
	"f4": "float32", "f8": "float64",
	"i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64",
	"u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64",
	"b1": "bool",
}

// readNpy reads the .npy file path that flag names. Fortran-ordered
// arrays, and element types other than floats and integers, are errors.
func readNpy(flag, path string) (a *npyFile, err error) {
	a = &npyFile{path: path, flag: flag}
	fail := func(format string, args ...any) (*npyFile, error) {
		return nil, fmt.Errorf("%s %s: %s", flag, path, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	// npyio's reader slices a malformed header without checks; turn a
	// panic there into an error naming the file.
	defer func() {
		if r := recover(); r != nil {
			a, err = fail("malformed .npy header (%v)", r)
		}
	}()
	r, err := npyio.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		if errors.Is(err, npyio.ErrInvalidNumPyFormat) {
			return fail("not a NumPy .npy file")
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail("truncated .npy header")
		}
		return fail("%v", err)
	}
	h := r.Header
	if h.Descr.Fortran {
		return fail("the array is in Fortran order; save a C-ordered copy (numpy.ascontiguousarray)")
	}
	a.shape = h.Descr.Shape
	code := strings.Trim(h.Descr.Type, "'\" ")
	kind := ""
	if len(code) == 3 && strings.ContainsRune("<>|=", rune(code[0])) {
		kind = npyKinds[code[1:]]
	}
	if kind == "" || kind == "bool" {
		return fail("element type %s is not a float or integer type", code)
	}
	a.dtype = kind
	n := 1
	for _, d := range a.shape {
		n *= d
	}
	if err := a.read(r, n); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail("truncated: the header promises %s values of %s", shapeString(a.shape), kind)
		}
		return fail("%v", err)
	}
	return a, nil
}

// read reads the n values of a's type from r and widens them.
func (a *npyFile) read(r *npyio.Reader, n int) error {
	if n == 0 {
		return nil
	}
	switch a.dtype {
	case "float32":
		v := make([]float32, n)
		return widen(r, v, &a.f)
	case "float64":
		a.f = make([]float64, n)
		return r.Read(&a.f)
	case "int8":
		return widen(r, make([]int8, n), &a.i)
	case "int16":
		return widen(r, make([]int16, n), &a.i)
	case "int32":
		return widen(r, make([]int32, n), &a.i)
	case "int64":
		a.i = make([]int64, n)
		return r.Read(&a.i)
	case "uint8":
		return widen(r, make([]uint8, n), &a.i)
	case "uint16":
		return widen(r, make([]uint16, n), &a.i)
	case "uint32":
		return widen(r, make([]uint32, n), &a.i)
	case "uint64":
		v := make([]uint64, n)
		if err := r.Read(&v); err != nil {
			return err
		}
		a.i = make([]int64, n)
		for k, x := range v {
			if x > 1<<62 {
				return fmt.Errorf("value %d at %d is too large", x, k)
			}
			a.i[k] = int64(x)
		}
		return nil
	}
	return fmt.Errorf("element type %s not read", a.dtype)
}

// widen reads v from r and converts it into *dst.
func widen[T int8 | int16 | int32 | uint8 | uint16 | uint32 | float32, U int64 | float64](r *npyio.Reader, v []T, dst *[]U) error {
	if err := r.Read(&v); err != nil {
		return err
	}
	out := make([]U, len(v))
	for k, x := range v {
		out[k] = U(x)
	}
	*dst = out
	return nil
}

// shapeString writes a shape as NumPy does: (4,), (4, 16).
func shapeString(shape []int) string {
	if len(shape) == 1 {
		return fmt.Sprintf("(%d,)", shape[0])
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// errorf is an error about a: "--z z.npy: shape (4, 10), want ...".
func (a *npyFile) errorf(format string, args ...any) error {
	return fmt.Errorf("%s %s: %s", a.flag, a.path, fmt.Sprintf(format, args...))
}

// floats returns a's values as float32, if a is a float array of shape
// (rows, want[1], ...); want[0] < 0 means any number of rows. what says
// what the dimensions are, for errors: "(B, dim_z 16)".
func (a *npyFile) floats(want []int, what string) ([]float32, error) {
	if !strings.HasPrefix(a.dtype, "float") {
		return nil, a.errorf("element type %s, want float32 or float64", a.dtype)
	}
	if err := a.checkShape(want, what); err != nil {
		return nil, err
	}
	out := make([]float32, len(a.f))
	for k, x := range a.f {
		out[k] = float32(x)
	}
	return out, nil
}

// ints returns a's values, if a is an integer array of shape want.
func (a *npyFile) ints(want []int, what string) ([]int64, error) {
	if strings.HasPrefix(a.dtype, "float") {
		return nil, a.errorf("element type %s, want an integer type (int64 or int32)", a.dtype)
	}
	if err := a.checkShape(want, what); err != nil {
		return nil, err
	}
	if a.i == nil {
		return []int64{}, nil
	}
	return a.i, nil
}

// checkShape compares a's shape with want, where -1 matches any size.
func (a *npyFile) checkShape(want []int, what string) error {
	ok := len(a.shape) == len(want)
	for k := 0; ok && k < len(want); k++ {
		ok = want[k] < 0 || want[k] == a.shape[k]
	}
	if !ok {
		return a.errorf("shape %s, want %s", shapeString(a.shape), what)
	}
	if len(a.shape) > 0 && a.shape[0] == 0 {
		return a.errorf("shape %s: no rows", shapeString(a.shape))
	}
	return nil
}

// rows is the size of a's first dimension.
func (a *npyFile) rows() int {
	if len(a.shape) == 0 {
		return 1
	}
	return a.shape[0]
}

// sameRows checks that the arrays have as many rows as the first.
func sameRows(first *npyFile, others ...*npyFile) error {
	for _, o := range others {
		if o.rows() != first.rows() {
			return fmt.Errorf("%s %s has %d rows but %s %s has %d: one row per sample in each", o.flag, o.path, o.rows(), first.flag, first.path, first.rows())
		}
	}
	return nil
}

// writeNpy writes data as a float32 .npy array of the given shape
// ((B, C, H, W) or (B, 1)), atomically.
func writeNpy(path string, data []float32, shape ...int) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("%s: %d values for shape %s", path, len(data), shapeString(shape))
	}
	var val any
	switch len(shape) {
	case 2:
		val = split2(data, shape[0], shape[1])
	case 4:
		rows := make([][][][]float32, shape[0])
		per := shape[1] * shape[2] * shape[3]
		for b := range rows {
			rows[b] = make([][][]float32, shape[1])
			for c := range rows[b] {
				off := b*per + c*shape[2]*shape[3]
				rows[b][c] = split2(data[off:off+shape[2]*shape[3]], shape[2], shape[3])
			}
		}
		val = rows
	default:
		return fmt.Errorf("%s: writing %d-dimensional arrays is not supported", path, len(shape))
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return npyio.Write(w, val) }); err != nil {
		return fmt.Errorf("--raw: %w", err)
	}
	return nil
}

// split2 views data as rows×cols.
func split2(data []float32, rows, cols int) [][]float32 {
	out := make([][]float32, rows)
	for r := range out {
		out[r] = data[r*cols : (r+1)*cols : (r+1)*cols]
	}
	return out
}
