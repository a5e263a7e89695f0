package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// update regenerates the files in testdata:
//
//	go test ./dataset -run TestUpdateTestdata -update
var update = flag.Bool("update", false, "regenerate the files in testdata")

// TestUpdateTestdata writes every file in testdata from the generators
// below. The files are committed, so it only runs with -update.
func TestUpdateTestdata(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata")
	}
	for path, data := range testdataFiles(t) {
		path = filepath.Join("testdata", filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Colours of the images in testdata/folder.
var (
	red    = color.RGBA{220, 40, 40, 255}
	blue   = color.RGBA{30, 60, 200, 255}
	green  = color.RGBA{40, 160, 60, 255}
	yellow = color.RGBA{230, 210, 40, 255}
)

// Tiny MNIST digits: 28×28 images whose pixel (y, x) is mnistPixel(n, y, x).
func mnistPixel(n, y, x int) byte { return byte((n*97 + y*28 + x) % 256) }

// testdataFiles returns the contents of every file in testdata, keyed by
// slash-separated path below testdata.
func testdataFiles(t *testing.T) map[string][]byte {
	files := map[string][]byte{}
	addIDXFiles(t, files)
	addMNISTFiles(t, files)
	addFolderFiles(t, files)
	addFormatFiles(t, files)
	return files
}

// addIDXFiles adds small valid and broken IDX files.
func addIDXFiles(t *testing.T, files map[string][]byte) {
	data := make([]byte, 2*3*4)
	for i := range data {
		data[i] = byte(i)
	}
	images := idx(3, []int{2, 3, 4}, data)
	full := gz(t, images)
	files["idx/images-ok.gz"] = full
	files["idx/labels-ok.gz"] = gz(t, idx(1, []int{5}, []byte{5, 0, 4, 1, 9}))
	files["idx/images-truncated.gz"] = gz(t, images[:len(images)-4])
	files["idx/header-truncated.gz"] = gz(t, images[:9])
	files["idx/images-badmagic.gz"] = gz(t, append([]byte("PK\x03\x04"), images[4:]...))
	files["idx/images-badtype.gz"] = gz(t, append([]byte{0, 0, 0x0d, 3}, images[4:]...))
	files["idx/images-trailing.gz"] = gz(t, append(images, 1, 2, 3))
	files["idx/images-zerodim.gz"] = gz(t, idx(3, []int{2, 0, 4}, nil))
	files["idx/images-notgzip.gz"] = images
	files["idx/images-gzipcut.gz"] = full[:len(full)-10]
}

// addMNISTFiles adds tiny MNIST folders: a valid one and broken ones.
func addMNISTFiles(t *testing.T, files map[string][]byte) {
	digits := func(n int) []byte {
		b := make([]byte, 0, n*28*28)
		for k := range n {
			for y := range 28 {
				for x := range 28 {
					b = append(b, mnistPixel(k, y, x))
				}
			}
		}
		return b
	}
	imgs := func(n int) []byte { return gz(t, idx(3, []int{n, 28, 28}, digits(n))) }
	lbls := func(l ...byte) []byte { return gz(t, idx(1, []int{len(l)}, l)) }

	files["mnist-tiny/train-images-idx3-ubyte.gz"] = imgs(3)
	files["mnist-tiny/train-labels-idx1-ubyte.gz"] = lbls(5, 0, 4)
	files["mnist-tiny/t10k-images-idx3-ubyte.gz"] = imgs(2)
	files["mnist-tiny/t10k-labels-idx1-ubyte.gz"] = lbls(7, 2)

	files["mnist-mismatch/train-images-idx3-ubyte.gz"] = imgs(3)
	files["mnist-mismatch/train-labels-idx1-ubyte.gz"] = lbls(5, 0)

	files["mnist-badlabel/train-images-idx3-ubyte.gz"] = imgs(3)
	files["mnist-badlabel/train-labels-idx1-ubyte.gz"] = lbls(5, 12, 4)

	files["mnist-wrongsize/train-images-idx3-ubyte.gz"] = gz(t, idx(3, []int{2, 20, 20}, make([]byte, 800)))
	files["mnist-wrongsize/train-labels-idx1-ubyte.gz"] = lbls(1, 2)

	files["mnist-truncated/train-images-idx3-ubyte.gz"] = gz(t, idx(3, []int{3, 28, 28}, digits(3)[:2000]))
	files["mnist-truncated/train-labels-idx1-ubyte.gz"] = lbls(5, 0, 4)
}

// addFolderFiles adds images in every supported format, and folders with
// a broken image or without images.
func addFolderFiles(t *testing.T, files map[string][]byte) {
	crop := solid(12, 4, red)
	fill(crop, image.Rect(4, 0, 8, 4), blue)
	half := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	fill(half, half.Bounds(), color.NRGBA{255, 0, 0, 128})
	gray := image.NewGray(image.Rect(0, 0, 5, 5))
	fill(gray, gray.Bounds(), color.Gray{100})

	files["folder/a-red.png"] = pngBytes(t, solid(6, 6, red))
	files["folder/b-crop.png"] = pngBytes(t, crop)
	files["folder/c-green.jpg"] = jpegBytes(t, solid(16, 16, green))
	files["folder/d-anim.gif"] = gifBytes(t, blue, yellow)
	files["folder/e-twotone.webp"] = webpTwoTone(4, 4, 0x20, 0xc0)
	files["folder/f-gray.png"] = pngBytes(t, gray)
	files["folder/g-clear.png"] = pngBytes(t, image.NewNRGBA(image.Rect(0, 0, 3, 3)))
	files["folder/h-halfalpha.png"] = pngBytes(t, half)
	files["folder/i-case.PNG"] = pngBytes(t, solid(3, 3, color.RGBA{0, 0, 0, 255}))
	files["folder/notes.txt"] = []byte("not an image; LoadFolder skips it\n")
	files["folder/sub/z-nested.png"] = pngBytes(t, solid(2, 2, red))

	files["folder-broken/a-ok.png"] = pngBytes(t, solid(2, 2, red))
	files["folder-broken/broken.jpg"] = []byte("this is not a JPEG file\n")

	files["folder-noimages/readme.txt"] = []byte("no images here\n")
}

// idx encodes an IDX file of unsigned bytes.
func idx(ndims int, dims []int, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(ndims)}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

// gz compresses b with gzip.
func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// solid returns a w×h image of colour c.
func solid(w, h int, c color.Color) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(m, m.Bounds(), c)
	return m
}

// fill sets the pixels of r in m to c.
func fill(m interface{ Set(x, y int, c color.Color) }, r image.Rectangle, c color.Color) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			m.Set(x, y, c)
		}
	}
}

func pngBytes(t *testing.T, m image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t *testing.T, m image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gifBytes encodes a two-frame 4×4 animation: a frame of first, then one
// of second.
func gifBytes(t *testing.T, first, second color.Color) []byte {
	pal := color.Palette{first, second}
	frame := func(c color.Color) *image.Paletted {
		m := image.NewPaletted(image.Rect(0, 0, 4, 4), pal)
		fill(m, m.Bounds(), c)
		return m
	}
	anim := &gif.GIF{
		Image: []*image.Paletted{frame(first), frame(second)},
		Delay: []int{10, 10},
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// webpTwoTone writes a lossless (VP8L) WebP of w×h pixels, opaque, red and
// blue zero, whose green is g0 in the top half and g1 in the bottom half.
//
// The bitstream uses no transforms and no colour cache, and a "simple"
// prefix code for each of the five alphabets: two 8-bit green symbols
// (coded 0 and 1, so each pixel costs one bit) and a single symbol for red,
// blue, alpha and distance (coded with zero bits).
func webpTwoTone(w, h int, g0, g1 byte) []byte {
	var bw lsbWriter
	bw.write(0x2f, 8) // VP8L signature
	bw.write(uint64(w-1), 14)
	bw.write(uint64(h-1), 14)
	bw.write(0, 1) // alpha is not used
	bw.write(0, 3) // version 0
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no colour cache
	bw.write(0, 1) // no meta prefix codes
	// Green: simple code, two symbols, first one 8 bits wide.
	bw.write(1, 1)
	bw.write(1, 1)
	bw.write(1, 1)
	bw.write(uint64(g0), 8)
	bw.write(uint64(g1), 8)
	for _, v := range []byte{0, 0, 255} { // red, blue, alpha
		bw.write(1, 1) // simple
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // 8 bits wide
		bw.write(uint64(v), 8)
	}
	bw.write(1, 1) // distance: simple, one symbol, 1 bit wide, symbol 0
	bw.write(0, 1)
	bw.write(0, 1)
	bw.write(0, 1)
	for y := range h {
		for range w {
			bw.write(uint64(min(2*y/h, 1)), 1)
		}
	}
	return riffWebP("VP8L", bw.bytes())
}

// riffWebP wraps one chunk in a RIFF WEBP container.
func riffWebP(fourCC string, chunk []byte) []byte {
	padded := len(chunk) + len(chunk)%2
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, uint32(4+8+padded))
	b = append(b, "WEBP"+fourCC...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(chunk)))
	b = append(b, chunk...)
	if len(chunk)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// lsbWriter packs bits least-significant first, as VP8L reads them.
type lsbWriter struct {
	buf  []byte
	acc  uint64
	nacc uint
}

func (w *lsbWriter) write(v uint64, n uint) {
	w.acc |= v << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

func (w *lsbWriter) bytes() []byte {
	if w.nacc > 0 {
		return append(w.buf, byte(w.acc))
	}
	return w.buf
}
