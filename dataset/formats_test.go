package dataset

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"path/filepath"
	"strings"
	"testing"
)

// addFormatFiles adds testdata/folder-formats, one image per colour model
// and Exif orientation that LoadFolder must turn into upright RGB, and
// testdata/folder-cmyk-noadobe, a CMYK JPEG that cannot be decoded.
func addFormatFiles(t *testing.T, files map[string][]byte) {
	quads := quadrants(32, 32)
	files["folder-formats/a-exif3.jpg"] = withExif(jpegBytesQ(t, quads, 100), exifBody(binary.LittleEndian, 3, true))
	files["folder-formats/b-exif6.jpg"] = withExif(jpegBytesQ(t, quads, 100), exifBody(binary.LittleEndian, 6, true))
	files["folder-formats/c-exif6-motorola.jpg"] = withExif(jpegBytesQ(t, quads, 100), exifBody(binary.BigEndian, 6, false))
	files["folder-formats/d-exif8.jpg"] = withExif(jpegBytesQ(t, quads, 100), exifBody(binary.LittleEndian, 8, true))
	wide := solid(32, 16, red)
	fill(wide, image.Rect(16, 0, 32, 16), blue)
	files["folder-formats/e-exif6-wide.jpg"] = withExif(jpegBytesQ(t, wide, 100), exifBody(binary.LittleEndian, 6, true))
	// An Exif segment whose IFD0 offset points past its end: the picture
	// is read as stored.
	broken := exifBody(binary.LittleEndian, 6, true)
	binary.LittleEndian.PutUint32(broken[6+4:], 0xfff0)
	files["folder-formats/f-exif-broken.jpg"] = withExif(jpegBytesQ(t, quads, 100), broken)

	gray := image.NewGray(image.Rect(0, 0, 16, 16))
	fill(gray, gray.Bounds(), color.Gray{100})
	files["folder-formats/g-gray.jpg"] = jpegBytesQ(t, gray, 100)
	files["folder-formats/h-cmyk.jpg"] = cmykJPEG(cmykColour, true)

	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.NRGBA{0, 0, 255, 128}, color.NRGBA{255, 0, 0, 255}})
	fill(pal, image.Rect(0, 2, 4, 4), color.NRGBA{255, 0, 0, 255})
	files["folder-formats/i-paletted-alpha.png"] = pngBytes(t, pal)
	files["folder-formats/j-transparent.gif"] = transparentGIF(t)
	deep := image.NewNRGBA64(image.Rect(0, 0, 3, 3))
	fill(deep, deep.Bounds(), color.NRGBA64{0x2000, 0x8000, 0xffff, 0xffff})
	files["folder-formats/k-rgb16.png"] = pngBytes(t, deep)
	gray16 := image.NewGray16(image.Rect(0, 0, 3, 3))
	fill(gray16, gray16.Bounds(), color.Gray16{0x6464})
	files["folder-formats/l-gray16.png"] = pngBytes(t, gray16)

	files["folder-cmyk-noadobe/a-cmyk.jpg"] = cmykJPEG(cmykColour, false)
}

// cmykColour is the ink of h-cmyk.jpg.
var cmykColour = color.CMYK{C: 20, M: 200, Y: 100, K: 30}

// quadrants returns a w×h image whose quarters are red (top left), blue
// (top right), green (bottom left) and yellow (bottom right).
func quadrants(w, h int) *image.RGBA {
	m := solid(w, h, red)
	fill(m, image.Rect(w/2, 0, w, h/2), blue)
	fill(m, image.Rect(0, h/2, w/2, h), green)
	fill(m, image.Rect(w/2, h/2, w, h), yellow)
	return m
}

func jpegBytesQ(t *testing.T, m image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// exifBody is the body of an APP1 Exif segment: "Exif\0\0", a TIFF header
// in byte order bo, and IFD0 holding the Orientation tag, after a Make tag
// when withMake is set.
func exifBody(bo byteOrder, orientation uint16, withMake bool) []byte {
	b := []byte("Exif\x00\x00")
	if bo == binary.LittleEndian {
		b = append(b, "II"...)
	} else {
		b = append(b, "MM"...)
	}
	b = bo.AppendUint16(b, 42)
	b = bo.AppendUint32(b, 8) // IFD0 right after the header
	n := uint16(1)
	if withMake {
		n = 2
	}
	b = bo.AppendUint16(b, n)
	if withMake { // Make, ASCII, 3 bytes "Go\0" inline
		b = bo.AppendUint16(b, 0x010f)
		b = bo.AppendUint16(b, 2)
		b = bo.AppendUint32(b, 3)
		b = append(b, 'G', 'o', 0, 0)
	}
	b = bo.AppendUint16(b, 0x0112) // Orientation, SHORT, 1 value
	b = bo.AppendUint16(b, 3)
	b = bo.AppendUint32(b, 1)
	b = bo.AppendUint16(b, orientation)
	b = append(b, 0, 0)
	return bo.AppendUint32(b, 0) // no IFD1
}

// byteOrder reads and appends integers in one byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// withExif inserts an APP1 segment with body right after the SOI marker
// of the JPEG file j.
func withExif(j, body []byte) []byte {
	seg := []byte{0xff, 0xe1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(body)))
	seg = append(seg, body...)
	out := append([]byte{}, j[:2]...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

// cmykJPEG writes an 8×8 baseline JPEG of four components, solid ink c,
// as Adobe software writes CMYK: inverted samples and, when adobe is set,
// an APP14 "Adobe" segment with transform 0 (CMYK). image/jpeg writes no
// 4-component files, so this encodes one by hand: every block has only a
// DC coefficient, quantised by 1.
func cmykJPEG(c color.CMYK, adobe bool) []byte {
	seg := func(b []byte, marker byte, body ...byte) []byte {
		b = append(b, 0xff, marker)
		b = binary.BigEndian.AppendUint16(b, uint16(2+len(body)))
		return append(b, body...)
	}
	b := []byte{0xff, 0xd8}
	if adobe {
		b = seg(b, 0xee, append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, 0)...)
	}
	b = seg(b, 0xdb, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)...) // DQT 0: all ones
	b = seg(b, 0xc0, 8, 0, 8, 0, 8, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0)
	// DC table 0: categories 0..11, each a 4-bit code (0000 to 1011).
	dc := append([]byte{0x00}, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	b = seg(b, 0xc4, append(dc, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)...)
	// AC table 0: only end-of-block, a 1-bit code.
	b = seg(b, 0xc4, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00)
	b = seg(b, 0xda, 4, 1, 0, 2, 0, 3, 0, 4, 0, 0, 63, 0)

	var w msbWriter
	for _, ink := range []uint8{c.C, c.M, c.Y, c.K} {
		// Adobe stores 255 - ink; a flat block's DC is 8·(sample - 128).
		dcv := 8 * (int(255-ink) - 128)
		size, bits := 0, dcv
		for v := max(dcv, -dcv); v > 0; v >>= 1 {
			size++
		}
		if dcv < 0 {
			bits = dcv + (1 << size) - 1
		}
		w.write(uint32(size), 4)
		w.write(uint32(bits), size)
		w.write(0, 1) // end of block
	}
	b = append(b, w.flush()...)
	return append(b, 0xff, 0xd9)
}

// msbWriter packs bits most-significant first, as a JPEG scan does, with
// a 0 stuffed after every 0xff byte.
type msbWriter struct {
	buf  []byte
	acc  uint32
	nacc int
}

func (w *msbWriter) write(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | (v>>i)&1
		w.nacc++
		if w.nacc == 8 {
			w.emit(byte(w.acc))
			w.acc, w.nacc = 0, 0
		}
	}
}

func (w *msbWriter) emit(b byte) {
	w.buf = append(w.buf, b)
	if b == 0xff {
		w.buf = append(w.buf, 0)
	}
}

// flush pads the last byte with ones and returns the bytes.
func (w *msbWriter) flush() []byte {
	for w.nacc != 0 {
		w.write(1, 1)
	}
	return w.buf
}

// transparentGIF is a 4×4 GIF whose left half is transparent and right
// half green.
func transparentGIF(t *testing.T) []byte {
	pal := color.Palette{color.RGBA{}, color.RGBA{40, 160, 60, 255}}
	m := image.NewPaletted(image.Rect(0, 0, 4, 4), pal)
	fill(m, image.Rect(2, 0, 4, 4), pal[1])
	var buf bytes.Buffer
	if err := gif.Encode(&buf, m, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadFolderFormats(t *testing.T) {
	const size = 8
	im, err := LoadFolder(filepath.Join("testdata", "folder-formats"), size, 0)
	if err != nil {
		t.Fatal(err)
	}
	cr, cg, cb, _ := cmykColour.RGBA()
	ink := rgb8{float64(cr >> 8), float64(cg >> 8), float64(cb >> 8)}
	r, b, g, y := rgb8{220, 40, 40}, rgb8{30, 60, 200}, rgb8{40, 160, 60}, rgb8{230, 210, 40}
	white := rgb8{255, 255, 255}
	// Images in name order with their corners as shown: top left, top
	// right, bottom left, bottom right; tolerances in 8-bit units.
	tests := []struct {
		name    string
		corners [4]rgb8
		tol     float64
	}{
		{"a-exif3.jpg (turned 180°)", [4]rgb8{y, g, b, r}, 12},
		{"b-exif6.jpg (turned 90° clockwise)", [4]rgb8{g, r, y, b}, 12},
		{"c-exif6-motorola.jpg (big-endian Exif)", [4]rgb8{g, r, y, b}, 12},
		{"d-exif8.jpg (turned 90° counter-clockwise)", [4]rgb8{b, y, r, g}, 12},
		{"e-exif6-wide.jpg (32×16 shown 16×32: left half on top)", [4]rgb8{r, r, b, b}, 12},
		{"f-exif-broken.jpg (as stored)", [4]rgb8{r, b, g, y}, 12},
		{"g-gray.jpg", [4]rgb8{{100, 100, 100}, {100, 100, 100}, {100, 100, 100}, {100, 100, 100}}, 1},
		{"h-cmyk.jpg", [4]rgb8{ink, ink, ink, ink}, 2},
		{"i-paletted-alpha.png (half-transparent blue over red)", [4]rgb8{{127, 127, 255}, {127, 127, 255}, {255, 0, 0}, {255, 0, 0}}, 1.5},
		{"j-transparent.gif (white left)", [4]rgb8{white, g, white, g}, 1},
		{"k-rgb16.png", [4]rgb8{{0x20, 0x80, 0xff}, {0x20, 0x80, 0xff}, {0x20, 0x80, 0xff}, {0x20, 0x80, 0xff}}, 1},
		{"l-gray16.png", [4]rgb8{{100, 100, 100}, {100, 100, 100}, {100, 100, 100}, {100, 100, 100}}, 1},
	}
	if im.N != len(tests) {
		t.Fatalf("%d images, want %d", im.N, len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := im.Image(i)
			for k, p := range [4][2]int{{0, 0}, {size - 1, 0}, {0, size - 1}, {size - 1, size - 1}} {
				checkPixel(t, img, size, p[0], p[1], tt.corners[k], tt.tol)
			}
		})
	}
}

func TestLoadFolderCMYKWithoutAdobe(t *testing.T) {
	dir := filepath.Join("testdata", "folder-cmyk-noadobe")
	_, err := LoadFolder(dir, 8, 0)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "a-cmyk.jpg")+": decode:") {
		t.Errorf("LoadFolder error %v, want a decode error naming a-cmyk.jpg", err)
	}
}

func TestJPEGOrientation(t *testing.T) {
	j := jpegBytesQ(t, solid(8, 8, red), 90)
	le, be := binary.LittleEndian, binary.BigEndian
	xmp := append([]byte{0xff, 0xe1, 0, 12}, "http://ns"...)
	xmp = append(xmp, 0)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", j, 1},
		{"little-endian 6", withExif(j, exifBody(le, 6, true)), 6},
		{"big-endian 3", withExif(j, exifBody(be, 3, true)), 3},
		{"orientation first", withExif(j, exifBody(le, 8, false)), 8},
		{"each value", withExif(j, exifBody(le, 5, false)), 5},
		{"after another APP1", append(append(append([]byte{}, j[:2]...), xmp...), withExif(j, exifBody(le, 7, true))[2:]...), 7},
		{"orientation 0", withExif(j, exifBody(le, 0, true)), 1},
		{"orientation 9", withExif(j, exifBody(le, 9, true)), 1},
		{"not tiff", withExif(j, append([]byte("Exif\x00\x00XX"), make([]byte, 20)...)), 1},
		{"not 42", withExif(j, func() []byte { b := exifBody(le, 6, true); b[8] = 43; return b }()), 1},
		{"IFD outside", withExif(j, func() []byte { b := exifBody(le, 6, true); le.PutUint32(b[10:], 500); return b }()), 1},
		{"entries cut", withExif(j, func() []byte { b := exifBody(le, 6, true); le.PutUint16(b[14:], 9); return b[:30] }()), 1},
		{"wrong type", withExif(j, func() []byte { b := exifBody(le, 6, false); le.PutUint16(b[18:], 4); return b }()), 1},
		{"segment longer than file", withExif(j, exifBody(le, 6, true))[:20], 1},
		{"not a jpeg", []byte("GIF89a"), 1},
		{"empty", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.data); got != tt.want {
				t.Errorf("jpegOrientation = %d, want %d", got, tt.want)
			}
		})
	}
	// Every test file still decodes.
	for _, tt := range tests[:6] {
		if _, err := jpeg.Decode(bytes.NewReader(tt.data)); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestOrient(t *testing.T) {
	// A 3×2 image whose pixel (x, y) has red 10·x + y + 1:
	//
	//	 1 11 21
	//	 2 12 22
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for y := range 2 {
		for x := range 3 {
			src.Set(x, y, color.RGBA{uint8(10*x + y + 1), 0, 0, 255})
		}
	}
	tests := []struct {
		o    int
		want [][]uint8 // rows of red values as shown
	}{
		{1, [][]uint8{{1, 11, 21}, {2, 12, 22}}},
		{2, [][]uint8{{21, 11, 1}, {22, 12, 2}}},
		{3, [][]uint8{{22, 12, 2}, {21, 11, 1}}},
		{4, [][]uint8{{2, 12, 22}, {1, 11, 21}}},
		{5, [][]uint8{{1, 2}, {11, 12}, {21, 22}}},
		{6, [][]uint8{{2, 1}, {12, 11}, {22, 21}}},
		{7, [][]uint8{{22, 21}, {12, 11}, {2, 1}}},
		{8, [][]uint8{{21, 22}, {11, 12}, {1, 2}}},
		{0, [][]uint8{{1, 11, 21}, {2, 12, 22}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.o), func(t *testing.T) {
			got := orient(src, tt.o)
			if b := got.Bounds(); b.Dx() != len(tt.want[0]) || b.Dy() != len(tt.want) {
				t.Fatalf("%dx%d, want %dx%d", b.Dx(), b.Dy(), len(tt.want[0]), len(tt.want))
			}
			for y, row := range tt.want {
				for x, v := range row {
					if c := got.RGBAAt(x, y); c.R != v || c.A != 255 {
						t.Errorf("pixel (%d,%d) = %v, want red %d", x, y, c, v)
					}
				}
			}
		})
	}
}
