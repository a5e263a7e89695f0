package checkpoint

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"slices"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// PyTorch's torch.save writes one of two layouts:
//
//   - legacy (PyTorch < 1.6, and _use_new_zipfile_serialization=False): five
//     pickles in a row (the magic number 0x1950a86a20f9469cfc6c, the
//     protocol version 1001, a dict of system facts, the object itself and
//     the list of storage keys in the order their data follows), then for
//     each storage an int64 element count and the raw little-endian data;
//   - zip: an archive whose DIR/data.pkl holds the object and DIR/data/KEY
//     the raw data of each storage.
//
// In both, the object's pickle refers to storages through persistent IDs
// ("storage", type, key, location, numel[, view]) and builds tensors with
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...).
//
// The pickle machine is gopickle's (github.com/nlpodyssey/gopickle/pickle),
// run on pickles whose opcode lengths readPickle has checked. Its pytorch
// package is not used, because in v0.3.0 it never returns on a file that
// starts with 1024 zero bytes (its tar probe loops on io.EOF), panics on
// tar-era files and on pre-0.4 storage views, allocates whatever element
// count a corrupt file states, and takes _rebuild_tensor_v2 only with
// exactly six arguments. The few lines below do that part instead.

var legacyMagic = func() *big.Int {
	n, _ := new(big.Int).SetString("1950a86a20f9469cfc6c", 16)
	return n
}()

const legacyProtocol = 1001

// pthStorageTypes are the storage classes of torch.save, with their element
// sizes and conversions to float32. Integer and bool storages are converted
// too (a num_batches_tracked counter, say), exactly for |values| < 2^24.
var pthStorageTypes = map[string]storageType{
	"FloatStorage":    {"float32", 4, decodeF32},
	"HalfStorage":     {"float16", 2, decodeF16},
	"BFloat16Storage": {"bfloat16", 2, decodeBF16},
	"DoubleStorage":   {"float64", 8, decodeF64},
	"LongStorage":     {"int64", 8, decodeI64},
	"IntStorage":      {"int32", 4, decodeI32},
	"ShortStorage":    {"int16", 2, decodeI16},
	"CharStorage":     {"int8", 1, decodeI8},
	"ByteStorage":     {"uint8", 1, decodeU8},
	"BoolStorage":     {"bool", 1, decodeU8},
}

type storageType struct {
	name   string
	size   int64
	decode func(dst []float32, src []byte)
}

// pthStorage is one storage named by the pickle; data is filled once the
// pickle has been read.
type pthStorage struct {
	typ   *storageType
	key   string
	numel int64
	data  []float32
	refs  int // tensors built on it
}

// pthStorageRef is what a persistent ID resolves to: a storage, or a view
// of one starting at offset.
type pthStorageRef struct {
	st     *pthStorage
	offset int64
	numel  int64
}

// pthTensor is a tensor as the pickle describes it.
type pthTensor struct {
	ref    *pthStorageRef
	offset int64
	size   []int64
	stride []int64
}

// LoadPth reads a state dict saved by PyTorch's torch.save, in the legacy
// or the zip format: a dict or OrderedDict of tensor names to tensors.
// Every tensor is converted to float32 on the host, whatever its dtype and
// wherever it was saved from (storages saved from a GPU are read like any
// other). A "module." prefix on every key, as nn.DataParallel leaves it,
// is removed.
func LoadPth(path string) (map[string]Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err) // the error names path
	}
	defer f.Close()
	state, err := loadPth(f)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return state, nil
}

func loadPth(f *os.File) (map[string]Tensor, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var head [4]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	switch {
	case n == 4 && string(head[:]) == "PK\x03\x04":
		return loadPthZip(f, fi.Size())
	case n >= 2 && head[0] == 0x80: // pickle PROTO opcode
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return loadPthLegacy(f, fi.Size())
	case n == 0:
		return nil, errors.New("empty file, not a PyTorch checkpoint")
	}
	return nil, fmt.Errorf("not a PyTorch checkpoint: starts with % x, neither a pickle nor a zip archive", head[:n])
}

// pthReader unpickles the object of a checkpoint and collects the storages
// it refers to, in order of first reference.
type pthReader struct {
	fileSize int64
	storages map[string]*pthStorage
	order    []*pthStorage
	legacy   bool
}

func newPthReader(fileSize int64, legacy bool) *pthReader {
	return &pthReader{fileSize: fileSize, storages: map[string]*pthStorage{}, legacy: legacy}
}

// unpickle reads one pickle from r with torch's classes and persistent IDs.
func (pr *pthReader) unpickle(r io.Reader) (obj any, err error) {
	// The pickle machine indexes and allocates what the file says; a
	// malformed file must be an error, not a crash.
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("malformed pickle: %v", p)
		}
	}()
	u := pickle.NewUnpickler(r)
	u.FindClass = pr.findClass
	u.PersistentLoad = pr.persistentLoad
	obj, err = u.Load()
	if err != nil {
		return nil, fmt.Errorf("pickle: %w", err)
	}
	return obj, nil
}

func (pr *pthReader) findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		return rebuildTensor{}, nil
	case "torch._utils._rebuild_parameter":
		return rebuildParameter{}, nil
	}
	if module == "torch" {
		if st, ok := pthStorageTypes[name]; ok {
			return &st, nil
		}
	}
	// Anything else (a class in training state beside the tensors) is kept
	// as an opaque object; it is an error only if it is used as a tensor.
	return types.NewGenericClass(module, name), nil
}

func (pr *pthReader) persistentLoad(id any) (any, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() == 0 || t.Get(0) != "storage" {
		return nil, fmt.Errorf("persistent id %v: want a (\"storage\", …) tuple", id)
	}
	want := 5
	if pr.legacy {
		want = 6
	}
	if t.Len() < want {
		return nil, fmt.Errorf("persistent id %v: %d fields, want %d", id, t.Len(), want)
	}
	typ, ok1 := t.Get(1).(*storageType)
	key, ok2 := t.Get(2).(string)
	_, ok3 := t.Get(3).(string) // location: "cpu", "cuda:0", …; all are read to the host
	numel, ok4 := toInt64(t.Get(4))
	if !ok1 {
		return nil, fmt.Errorf("storage of unsupported type %v", t.Get(1))
	}
	if !ok2 || !ok3 || !ok4 || numel < 0 {
		return nil, fmt.Errorf("persistent id %v: want (\"storage\", type, key, location, numel)", id)
	}
	if numel > pr.fileSize/typ.size {
		return nil, fmt.Errorf("storage %q: %d %s values do not fit in a file of %d bytes", key, numel, typ.name, pr.fileSize)
	}
	st, seen := pr.storages[key]
	if !seen {
		st = &pthStorage{typ: typ, key: key, numel: numel}
		pr.storages[key] = st
		pr.order = append(pr.order, st)
	} else if st.typ.name != typ.name {
		return nil, fmt.Errorf("storage %q referred to as %s and as %s", key, st.typ.name, typ.name)
	}
	ref := &pthStorageRef{st: st, numel: numel}
	if !pr.legacy || t.Get(5) == nil {
		return ref, nil
	}
	// A legacy view: (view key, offset, view size) into the root storage.
	view, ok := t.Get(5).(*types.Tuple)
	if !ok || view.Len() != 3 {
		return nil, fmt.Errorf("storage %q: view %v: want (key, offset, size)", key, t.Get(5))
	}
	off, ok1 := toInt64(view.Get(1))
	size, ok2 := toInt64(view.Get(2))
	if !ok1 || !ok2 || off < 0 || size < 0 || off+size > numel {
		return nil, fmt.Errorf("storage %q: view %v outside its %d values", key, t.Get(5), numel)
	}
	return &pthStorageRef{st: st, offset: off, numel: size}, nil
}

// rebuildTensor is torch._utils._rebuild_tensor_v2 (storage, offset, size,
// stride, requires_grad, hooks[, metadata]) and its older four-argument
// form _rebuild_tensor.
type rebuildTensor struct{}

func (rebuildTensor) Call(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("tensor rebuilt from %d arguments, want at least 4", len(args))
	}
	ref, ok := args[0].(*pthStorageRef)
	if !ok {
		return nil, fmt.Errorf("tensor rebuilt from a %T, not a storage", args[0])
	}
	off, ok1 := toInt64(args[1])
	size, ok2 := toInt64s(args[2])
	stride, ok3 := toInt64s(args[3])
	if !ok1 || !ok2 || !ok3 || len(size) != len(stride) {
		return nil, fmt.Errorf("tensor on storage %q: bad offset, size or stride %v %v %v", ref.st.key, args[1], args[2], args[3])
	}
	ref.st.refs++
	return &pthTensor{ref: ref, offset: off, size: size, stride: stride}, nil
}

// rebuildParameter is torch._utils._rebuild_parameter(data, requires_grad,
// hooks): a parameter is its tensor.
type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("parameter rebuilt from no arguments")
	}
	return args[0], nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

func toInt64s(v any) ([]int64, bool) {
	var items []any
	switch x := v.(type) {
	case *types.Tuple:
		items = *x
	case *types.List:
		items = *x
	default:
		return nil, false
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, ok := toInt64(it)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// loadPthLegacy reads the legacy layout from f.
func loadPthLegacy(f *os.File, size int64) (map[string]Tensor, error) {
	r := bufio.NewReaderSize(f, 1<<20)
	pr := newPthReader(size, true)
	var pos int64 // bytes consumed
	next := func(what string) (any, error) {
		raw, err := readPickle(r, size-pos)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		pos += int64(len(raw))
		obj, err := pr.unpickle(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return obj, nil
	}
	magic, err := next("magic number")
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("starts with the pickle of %v, not PyTorch's magic number", magic)
	}
	proto, err := next("protocol version")
	if err != nil {
		return nil, err
	}
	if p, ok := toInt64(proto); !ok || p != legacyProtocol {
		return nil, fmt.Errorf("protocol version %v, want %d", proto, legacyProtocol)
	}
	sysInfo, err := next("system info")
	if err != nil {
		return nil, err
	}
	if d, ok := sysInfo.(*types.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le == false {
			return nil, errors.New("saved on a big-endian machine, which is not supported")
		}
	}
	obj, err := next("state dict")
	if err != nil {
		return nil, err
	}
	keysObj, err := next("storage keys")
	if err != nil {
		return nil, err
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("storage keys: a %s, want a list", describe(keysObj))
	}
	var buf []byte
	for _, k := range *keys {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("storage keys: %v is not a string", k)
		}
		st, ok := pr.storages[key]
		if !ok {
			return nil, fmt.Errorf("storage %q: data present but no tensor uses it", key)
		}
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, fmt.Errorf("storage %q: %w (file truncated?)", key, eofAsUnexpected(err))
		}
		pos += 8
		if n := int64(binary.LittleEndian.Uint64(hdr[:])); n != st.numel {
			return nil, fmt.Errorf("storage %q: data holds %d values, the pickle says %d", key, n, st.numel)
		}
		nbytes := st.numel * st.typ.size
		if nbytes > size-pos {
			return nil, fmt.Errorf("storage %q: %d %s values need %d bytes, %d remain (file truncated?)", key, st.numel, st.typ.name, nbytes, size-pos)
		}
		if int64(cap(buf)) < nbytes {
			buf = make([]byte, nbytes)
		}
		if _, err := io.ReadFull(r, buf[:nbytes]); err != nil {
			return nil, fmt.Errorf("storage %q: %w (file truncated?)", key, eofAsUnexpected(err))
		}
		pos += nbytes
		st.data = make([]float32, st.numel)
		st.typ.decode(st.data, buf[:nbytes])
	}
	return stateDict(obj, pr)
}

func eofAsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// loadPthZip reads the zip layout from f.
func loadPthZip(f *os.File, size int64) (map[string]Tensor, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, fmt.Errorf("%w (file truncated?)", err)
	}
	records := map[string]*zip.File{}
	var pkl *zip.File
	for _, zf := range zr.File {
		records[zf.Name] = zf
		if zf.Name == "data.pkl" || strings.HasSuffix(zf.Name, "/data.pkl") && strings.Count(zf.Name, "/") == 1 {
			pkl = zf
		}
	}
	if pkl == nil {
		return nil, errors.New("zip archive without a data.pkl record: not a torch.save file")
	}
	dir := strings.TrimSuffix(pkl.Name, "data.pkl")
	if bo, ok := records[dir+"byteorder"]; ok {
		b, err := readRecord(bo, 16, size)
		if err != nil {
			return nil, err
		}
		if string(b) != "little" {
			return nil, fmt.Errorf("byte order %q is not supported", b)
		}
	}
	raw, err := readRecord(pkl, pkl.UncompressedSize64, size)
	if err != nil {
		return nil, err
	}
	raw, err = readPickle(bufio.NewReader(bytes.NewReader(raw)), int64(len(raw)))
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", pkl.Name, err)
	}
	pr := newPthReader(size, false)
	obj, err := pr.unpickle(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", pkl.Name, err)
	}
	for _, st := range pr.order {
		name := dir + "data/" + st.key
		zf, ok := records[name]
		if !ok {
			return nil, fmt.Errorf("storage %q: no record %s", st.key, name)
		}
		nbytes := st.numel * st.typ.size
		if zf.UncompressedSize64 < uint64(nbytes) {
			return nil, fmt.Errorf("storage %q: record %s holds %d bytes, %d %s values need %d", st.key, name, zf.UncompressedSize64, st.numel, st.typ.name, nbytes)
		}
		b, err := readRecord(zf, uint64(nbytes), size)
		if err != nil {
			return nil, err
		}
		st.data = make([]float32, st.numel)
		st.typ.decode(st.data, b)
	}
	return stateDict(obj, pr)
}

// readRecord reads the first n bytes of a zip record of a file of
// fileSize bytes. torch.save stores records uncompressed, so a record that
// claims more bytes than the whole file is taken for a corrupt one rather
// than allocated.
func readRecord(zf *zip.File, n uint64, fileSize int64) ([]byte, error) {
	n = min(n, zf.UncompressedSize64)
	if n > uint64(fileSize) {
		return nil, fmt.Errorf("record %s claims %d bytes, more than the file's %d", zf.Name, n, fileSize)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", zf.Name, err)
	}
	defer rc.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("record %s: %w", zf.Name, eofAsUnexpected(err))
	}
	return b, nil
}

// stateDict turns the unpickled object into named float32 tensors.
func stateDict(obj any, pr *pthReader) (map[string]Tensor, error) {
	type kv struct {
		key any
		val any
	}
	var items []kv
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			entry := e.Value.(*types.OrderedDictEntry)
			items = append(items, kv{entry.Key, entry.Value})
		}
	case *types.Dict:
		for _, e := range *d {
			items = append(items, kv{e.Key, e.Value})
		}
	default:
		return nil, fmt.Errorf("holds a %s, not a state dict (a dict of tensors)", describe(obj))
	}
	out := make(map[string]Tensor, len(items))
	for _, it := range items {
		name, ok := it.key.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %v is not a string", it.key)
		}
		pt, ok := it.val.(*pthTensor)
		if !ok {
			return nil, fmt.Errorf("%q holds a %s, not a tensor", name, describe(it.val))
		}
		t, err := pt.float32()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", name)
		}
		out[name] = t
	}
	return stripPrefix(out, "module."), nil
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case *types.GenericObject:
		return x.Class.Module + "." + x.Class.Name
	case *types.List:
		return "list"
	case *types.Tuple:
		return "tuple"
	case *types.Dict, *types.OrderedDict:
		return "dict"
	case int, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case *pthStorageRef:
		return "storage"
	}
	return fmt.Sprintf("%T", v)
}

// stripPrefix removes prefix from every key when every key has it.
func stripPrefix(state map[string]Tensor, prefix string) map[string]Tensor {
	if len(state) == 0 {
		return state
	}
	for k := range state {
		if !strings.HasPrefix(k, prefix) {
			return state
		}
	}
	out := make(map[string]Tensor, len(state))
	for k, t := range state {
		out[strings.TrimPrefix(k, prefix)] = t
	}
	return out
}

// A tensor may hold more values than its storage only when it is a
// broadcast view (stride 0); up to maxPthExpanded values are accepted then,
// a larger one is taken for a corrupt file rather than allocated.
const maxPthExpanded = 1 << 20

// float32 gathers the tensor's values, in row-major order, from its
// storage.
func (pt *pthTensor) float32() (Tensor, error) {
	shape := slices.Clone(pt.size)
	if shape == nil {
		shape = []int64{}
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > (1<<40)/d {
			return Tensor{}, fmt.Errorf("shape %v is too large", shape)
		}
		n *= d
	}
	ref := pt.ref
	if ref.offset+ref.numel > int64(len(ref.st.data)) {
		return Tensor{}, fmt.Errorf("storage %q has %d values, not the %d the pickle says", ref.st.key, len(ref.st.data), ref.offset+ref.numel)
	}
	src := ref.st.data[ref.offset : ref.offset+ref.numel]
	if n == 0 {
		return Tensor{Shape: shape, Data: []float32{}}, nil
	}
	// The last element must lie inside the storage (view).
	last := pt.offset
	for i, d := range shape {
		if pt.stride[i] < 0 {
			return Tensor{}, fmt.Errorf("negative stride %v", pt.stride)
		}
		last += (d - 1) * pt.stride[i]
	}
	if pt.offset < 0 || last >= int64(len(src)) {
		return Tensor{}, fmt.Errorf("shape %v, stride %v at offset %d reach beyond the %d values of storage %q", shape, pt.stride, pt.offset, len(src), ref.st.key)
	}
	if n > int64(len(src)) && n > maxPthExpanded {
		return Tensor{}, fmt.Errorf("shape %v holds %d values, more than the %d of storage %q", shape, n, len(src), ref.st.key)
	}
	if contiguous(shape, pt.stride) {
		if ref.st.refs == 1 && pt.offset == 0 && ref.offset == 0 && n == int64(len(ref.st.data)) {
			return Tensor{Shape: shape, Data: ref.st.data}, nil // sole user of the whole storage
		}
		return Tensor{Shape: shape, Data: slices.Clone(src[pt.offset : pt.offset+n])}, nil
	}
	data := make([]float32, 0, n)
	idx := make([]int64, len(shape))
	for range n {
		pos := pt.offset
		for i, j := range idx {
			pos += j * pt.stride[i]
		}
		data = append(data, src[pos])
		for i := len(idx) - 1; i >= 0; i-- {
			if idx[i]++; idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return Tensor{Shape: shape, Data: data}, nil
}

// contiguous reports whether stride is the row-major stride of shape
// (dimensions of size 1 may have any stride).
func contiguous(shape, stride []int64) bool {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

func decodeF64(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
	}
}

func decodeI64(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(int64(binary.LittleEndian.Uint64(src[8*i:])))
	}
}

func decodeI32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(int32(binary.LittleEndian.Uint32(src[4*i:])))
	}
}

func decodeI16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(int16(binary.LittleEndian.Uint16(src[2*i:])))
	}
}

func decodeI8(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(int8(src[i]))
	}
}

func decodeU8(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = float32(src[i])
	}
}
