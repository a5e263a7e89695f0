package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"ganshift/biggan"
	"ganshift/checkpoint"
	"ganshift/classifier"
	"ganshift/progress"
	"ganshift/torch"
)

// asCommandEnv, set to 1, makes the test binary run as ganshift itself.
const asCommandEnv = "GANSHIFT_TEST_MAIN"

// fixtureRoot holds the files shared by the tests; TestMain removes it.
var fixtureRoot string

func TestMain(m *testing.M) {
	// The test binary doubles as the command: tests that need a real
	// process (to kill it, to interrupt it) run os.Args[0] with this
	// variable set.
	if os.Getenv(asCommandEnv) == "1" {
		main()
		os.Exit(0)
	}
	torch.SetThreads(runtime.NumCPU())
	progress.Quiet = true
	dir, err := os.MkdirTemp("", "ganshift-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ganshift runs the command line in this process with args (after -q)
// and returns what it printed on stdout and cobra's own output.
func ganshift(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	r, w, perr := os.Pipe()
	if perr != nil {
		t.Fatal(perr)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		w.Close()
		os.Stdout = old
		stdout = <-done
		r.Close()
	}()
	root := newRootCmd()
	var cobraOut bytes.Buffer
	root.SetOut(&cobraOut)
	root.SetErr(&cobraOut)
	root.SetArgs(append([]string{"-q"}, args...))
	return "", root.Execute()
}

// smallCfg is a BigGAN small enough to sample in milliseconds.
var smallCfg = biggan.Config{Resolution: 32, GCh: 4, DCh: 4, DimZ: 16, SharedDim: 8, NClasses: 3}

// fixtureSet is what the tests share: model directories, image folders
// and a classifier file.
type fixtureSet struct {
	model, modelB string // two small model directories (different weights)
	badModel      string // a model directory whose G has a wrong-shaped tensor
	imagesA       string // 8 small dark PNGs
	imagesB       string // 8 small bright PNGs
	cls           string // a small untrained joint classifier
}

var (
	fixOnce sync.Once
	fix     fixtureSet
	fixErr  error
)

// fixtures builds the shared files once.
func fixtures(t *testing.T) fixtureSet {
	t.Helper()
	fixOnce.Do(func() { fixErr = buildFixtures() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func buildFixtures() error {
	p := func(name string) string { return filepath.Join(fixtureRoot, name) }
	fix = fixtureSet{model: p("model"), modelB: p("modelB"), badModel: p("badmodel"),
		imagesA: p("imagesA"), imagesB: p("imagesB"), cls: p("joint.safetensors")}
	for i, dir := range []string{fix.model, fix.modelB, fix.badModel} {
		if err := saveModel(dir, uint64(10*i+1)); err != nil {
			return err
		}
	}
	// The bad model: G's linear.weight gets one column too many.
	gPath := filepath.Join(fix.badModel, "G.safetensors")
	state, meta, err := checkpoint.Load(gPath)
	if err != nil {
		return err
	}
	w := state["linear.weight"]
	w.Shape = []int64{w.Shape[0], w.Shape[1] + 1}
	w.Data = make([]float32, w.Shape[0]*w.Shape[1])
	state["linear.weight"] = w
	if err := checkpoint.Save(gPath, state, meta); err != nil {
		return err
	}
	if err := writePNGs(fix.imagesA, 8, 0); err != nil {
		return err
	}
	if err := writePNGs(fix.imagesB, 8, 200); err != nil {
		return err
	}
	c, err := classifier.New(classifier.Config{Arch: "smallcnn", Size: 32, Classes: 2, Mode: classifier.Joint, Target: 1}, 5)
	if err != nil {
		return err
	}
	defer c.Free()
	return c.Save(fix.cls)
}

// saveModel writes a small model directory with G, G_ema and D.
func saveModel(dir string, seed uint64) error {
	g, err := biggan.NewGenerator(smallCfg, seed)
	if err != nil {
		return err
	}
	defer g.Free()
	ema, err := biggan.NewGenerator(smallCfg, seed+1)
	if err != nil {
		return err
	}
	defer ema.Free()
	d, err := biggan.NewDiscriminator(smallCfg, seed+2)
	if err != nil {
		return err
	}
	defer d.Free()
	return biggan.SaveDir(dir, &biggan.Model{Cfg: g.Cfg, G: g, GEma: ema, D: d})
}

// writePNGs writes n 12×10 PNGs into dir, with colours starting at base.
func writePNGs(dir string, n int, base uint8) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 12, 10))
		for y := range 10 {
			for x := range 12 {
				img.Set(x, y, color.RGBA{base + uint8(3*x), base + uint8(5*y), base + uint8(6*i), 255})
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("img%02d.png", i)), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// decodePNG reads a PNG file.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// gridSize is the size of a sheet.Grid of 32×32 samples at scale 2 with
// 2 pixels of padding.
func gridSize(cols, rows int) (w, h int) {
	const cell = 32*2 + 2
	return cols*cell + 2, rows*cell + 2
}
