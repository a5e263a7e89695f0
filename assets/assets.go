// Package assets holds ganshift's embedded default: a 32×32 class-conditional
// BigGAN pretrained on MNIST (G, G_ema and D) and a small CNN digit
// classifier pretrained on MNIST, the backbone of the demo's cross-dataset
// classifiers. The README says how each was made.
package assets

import (
	"embed"
	"io/fs"

	"ganshift/biggan"
	"ganshift/classifier"
)

//go:embed mnist32/model.json mnist32/G.safetensors mnist32/G_ema.safetensors mnist32/D.safetensors
//go:embed digits.safetensors
var files embed.FS

// ModelName is how run configs refer to the embedded GAN.
const ModelName = "embedded:mnist32"

// BackboneName is how run configs refer to the embedded digit classifier.
const BackboneName = "embedded:digits"

// Model loads the embedded MNIST BigGAN.
func Model() (*biggan.Model, error) {
	sub, err := fs.Sub(files, "mnist32")
	if err != nil {
		return nil, err
	}
	return biggan.LoadFS(sub, ModelName)
}

// Backbone loads the embedded MNIST digit classifier.
func Backbone() (*classifier.Net, error) {
	raw, err := files.ReadFile("digits.safetensors")
	if err != nil {
		return nil, err
	}
	return classifier.Decode(BackboneName, raw)
}
