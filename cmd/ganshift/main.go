// Command ganshift transforms what a pretrained GAN draws: it fine-tunes a
// class-conditional generator on the weighted sum of a frozen cross-dataset
// classifier's loss and the frozen discriminator's loss.
package main

import (
	"fmt"
	"os"
	"runtime"
)

// init keeps the main goroutine on the process's first OS thread, so that
// every network the commands run works from that one thread. libgomp gives
// each OS thread that opens a parallel region its own team of workers and
// counts all of them against the cores: a second team (a goroutine that
// moved to another thread between two scopes) pushes the count past the
// core count, and from then on every worker sleeps between regions instead
// of spinning, which made the demo's 32×32 step 1.7× slower for the rest of
// the process.
func init() { runtime.LockOSThread() }

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ganshift:", err)
		os.Exit(1)
	}
}
