package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
			// strconv, not Sscanf, so that trailing text is an error.
			ns, seeds, _ := strings.Cut(rest, ":")
			var errN, errSeed error
			n, errN = strconv.Atoi(ns)
			seed, errSeed = strconv.ParseUint(seeds, 10, 64)
			if errN != nil || errSeed != nil {
				return nil, fmt.Errorf("image set %q: want typeset:N:SEED", spec)
			}
		}
		return dataset.RenderTypeset(n, size, seed)
	}
	if _, err := os.Stat(spec); os.IsNotExist(err) {
		return nil, fmt.Errorf("image set %q: not mnist, typeset, typeset:N:SEED or an existing folder", spec)
	}
	return dataset.LoadFolder(spec, size, label)
}

// loadLabelled reads a labelled image set for pretraining: "mnist", or a
// folder with one subfolder of images per class (classes in name order).
func loadLabelled(spec string, size int) (*dataset.Images, []string, error) {
	if spec == "mnist" {
		im, err := dataset.LoadMNIST("", true)
		names := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
		return im, names, err
	}
	entries, err := os.ReadDir(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("image set: %w", err)
	}
	var sets []*dataset.Images
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		im, err := dataset.LoadFolder(filepath.Join(spec, e.Name()), size, len(names))
		if err != nil {
			return nil, nil, err
		}
		sets = append(sets, im)
		names = append(names, e.Name())
	}
	if len(sets) == 0 {
		return nil, nil, fmt.Errorf("image set %s: no class subfolders (want one folder of images per class)", spec)
	}
	im, err := dataset.Concat(sets...)
	return im, names, err
}
