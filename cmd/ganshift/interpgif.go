package main

import (
	"fmt"
	"image"
	"path/filepath"

	"ganshift/biggan"
	"ganshift/sheet"
)

// holdEnds is how many frames' time the two classes themselves are shown.
const holdEnds = 10

// writeGIF writes OUT/interp.gif: every generator's interpolation column
// side by side, from the first classes to the second in o.frames steps
// and back.
func (o *interpOptions) writeGIF(gens []*biggan.Generator, titles []string, pairs [][2]int64, z []float32) error {
	steps, err := sheet.CompareInterpSteps(gens, titles, pairs, z, o.frames)
	if err != nil {
		return err
	}
	order := sheet.PingPong(o.frames)
	frames := make([]image.Image, len(order))
	delays := make([]int, len(order))
	for i, k := range order {
		frames[i] = steps[k]
		delays[i] = gifDelay(o.delay)
		if k == 0 || k == o.frames-1 {
			delays[i] = gifDelay(holdEnds * o.delay)
		}
	}
	path := filepath.Join(o.out, "interp.gif")
	if err := sheet.SaveGIF(path, frames, delays); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return nil
}

// gifDelay converts milliseconds to a GIF delay, in hundredths of a second.
func gifDelay(ms int) int { return max(2, (ms+5)/10) }
