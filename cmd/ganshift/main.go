// Command ganshift transforms what a pretrained GAN draws: it fine-tunes a
// class-conditional generator on the weighted sum of a frozen cross-dataset
// classifier's loss and the frozen discriminator's loss.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ganshift:", err)
		os.Exit(1)
	}
}
