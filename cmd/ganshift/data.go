package main

import (
	"fmt"
	"strings"

	"ganshift/dataset"
)

// loadImages reads an image-set argument: "mnist" (the GoMNIST module's
// training set), "typeset" (rendered digits, seed 1), "typeset:N:SEED",
// or a folder of images.
func loadImages(spec string, size, label int) (*dataset.Images, error) {
	switch {
	case spec == "mnist":
		return dataset.LoadMNIST("", true)
	case spec == "typeset" || strings.HasPrefix(spec, "typeset:"):
		n, seed := 10000, uint64(1)
		if rest, ok := strings.CutPrefix(spec, "typeset:"); ok {
			if _, err := fmt.Sscanf(rest, "%d:%d", &n, &seed); err != nil {
				return nil, fmt.Errorf("image set %q: want typeset:N:SEED", spec)
			}
		}
		return dataset.RenderTypeset(n, size, seed)
	}
	return dataset.LoadFolder(spec, size, label)
}
