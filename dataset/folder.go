package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders for image.Decode
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
)

// imageExts are the file name extensions LoadFolder reads, in lower case.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".webp": true, ".gif": true}

// LoadFolder loads every image file directly in dir (extensions .jpg,
// .jpeg, .png, .webp and .gif in any case; sorted by name; sub-folders are
// not searched) as size×size RGB images, all labelled label.
//
// Every colour model the decoders produce becomes RGB: grayscale, CMYK and
// YCCK JPEGs (Adobe's inverted CMYK included), paletted, grayscale and
// 16-bit PNGs, GIFs. Each image is composited on white (so transparent
// pixels become white), turned as a JPEG's Exif Orientation tag says (a
// photo taken with the camera held sideways is stored sideways), resized
// so that its shorter side is size and cropped to the centre size×size
// square with Catmull-Rom filtering. A GIF contributes its first frame. It
// fails if dir is not a readable folder, holds no image files, or any of
// them does not decode.
func LoadFolder(dir string, size, label int) (*Images, error) {
	if size < 1 {
		return nil, fmt.Errorf("dataset: %s: image size %d is not positive", dir, size)
	}
	paths, err := imageFiles(dir)
	if err != nil {
		return nil, err
	}
	im := newImages(len(paths), 3, size, size)
	for i, p := range paths {
		rgba, err := loadSquare(p, size)
		if err != nil {
			return nil, err
		}
		putRGB(im.Image(i), rgba)
		im.Labels[i] = label
	}
	return im, nil
}

// imageFiles lists the image files directly in dir, sorted by name.
func imageFiles(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dataset: %s: not a folder", dir)
	}
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() && imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("dataset: %s: no image files (.jpg .jpeg .png .webp .gif)", dir)
	}
	return paths, nil
}

// loadSquare decodes the image file at path and returns it composited on
// white, scaled and centre-cropped to size×size.
func loadSquare(path string, size int) (*image.RGBA, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	src, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: decode: %w", path, err)
	}
	b := src.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("dataset: %s: empty image", path)
	}
	flat := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(flat, flat.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(flat, flat.Bounds(), src, b.Min, draw.Over)
	if format == "jpeg" {
		flat = orient(flat, jpegOrientation(data))
	}

	fb := flat.Bounds()
	side := min(fb.Dx(), fb.Dy())
	x0, y0 := (fb.Dx()-side)/2, (fb.Dy()-side)/2
	crop := image.Rect(x0, y0, x0+side, y0+side)
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.CatmullRom.Scale(dst, dst.Bounds(), flat, crop, draw.Src, nil)
	return dst, nil
}

// putRGB writes the opaque image m into dst as 3 planes in [-1, 1].
func putRGB(dst []float32, m *image.RGBA) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	plane := w * h
	for y := range h {
		row := m.Pix[y*m.Stride:]
		for x := range w {
			for c := range 3 {
				dst[c*plane+y*w+x] = float32(row[4*x+c])/127.5 - 1
			}
		}
	}
}
