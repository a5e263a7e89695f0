package dataset

import (
	"bytes"
	"encoding/binary"
	"image"
)

// jpegOrientation returns the Exif Orientation (1 to 8) of the JPEG file
// data: the value of tag 0x0112 in IFD0 of the first APP1 "Exif" segment,
// which says how a camera held sideways stored the picture. It returns 1
// (as stored) when the file has no such tag, or when the Exif data is
// malformed or out of range: a picture is better shown unrotated than not
// at all.
func jpegOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return 1
	}
	for p := 2; p+4 <= len(data); {
		if data[p] != 0xff {
			return 1 // not at a marker: the segment lengths were wrong
		}
		marker := data[p+1]
		switch {
		case marker == 0xff: // fill byte
			p++
			continue
		case marker == 0xd8 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7):
			p += 2 // markers without a length
			continue
		case marker == 0xda || marker == 0xd9:
			return 1 // start of scan or end of image: no Exif before the pixels
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return 1
		}
		seg := data[p+4 : p+2+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return tiffOrientation(seg[6:])
		}
		p += 2 + n
	}
	return 1
}

// tiffOrientation reads the Orientation tag from IFD0 of a TIFF header
// and directory (the body of an Exif segment).
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	ifd := int(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > len(t) {
		return 1
	}
	count := int(bo.Uint16(t[ifd:]))
	for i := range count {
		e := ifd + 2 + 12*i
		if e+12 > len(t) {
			return 1
		}
		const orientationTag, typeShort = 0x0112, 3
		if bo.Uint16(t[e:]) != orientationTag {
			continue
		}
		if bo.Uint16(t[e+2:]) != typeShort || bo.Uint32(t[e+4:]) != 1 {
			return 1
		}
		// A single SHORT sits in the first two bytes of the value field.
		if o := int(bo.Uint16(t[e+8:])); o >= 1 && o <= 8 {
			return o
		}
		return 1
	}
	return 1
}

// orient returns m turned to how Exif orientation o says to show it:
//
//	1 as stored            5 transposed (mirrored and turned)
//	2 mirrored left-right  6 turned 90° clockwise
//	3 turned 180°          7 transversed (mirrored and turned)
//	4 mirrored top-bottom  8 turned 90° counter-clockwise
//
// Orientations 5 to 8 swap width and height. m itself is returned for 1.
func orient(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			// (sx, sy) is the stored pixel shown at (x, y).
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			si := m.PixOffset(m.Rect.Min.X+sx, m.Rect.Min.Y+sy)
			copy(out.Pix[out.PixOffset(x, y):][:4], m.Pix[si:si+4])
		}
	}
	return out
}
