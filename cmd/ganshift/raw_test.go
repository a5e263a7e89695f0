package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"

	"ganshift/biggan"
	"ganshift/torch"
)

// writeNpyFile writes val (a slice, or nested slices) as a .npy file.
func writeNpyFile(t *testing.T, path string, val any) string {
	t.Helper()
	var b bytes.Buffer
	if err := npyio.Write(&b, val); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// handNpy builds a version 1.0 .npy file with the given header fields and
// data, for the files npyio does not write (Fortran order, bad headers).
func handNpy(descr string, fortran bool, shape string, data []byte) []byte {
	order := "False"
	if fortran {
		order = "True"
	}
	hdr := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, order, shape)
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	return append(append(b, hdr...), data...)
}

// readNpyBack reads a .npy file the command wrote: its dtype, shape and
// float32 values.
func readNpyBack(t *testing.T, path string) (string, []int, []float32) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := npyio.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var v []float32
	if err := r.Read(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return strings.Trim(r.Header.Descr.Type, "'"), r.Header.Descr.Shape, v
}

// rawInputs are latents and classes for smallCfg, in several encodings.
type rawInputs struct {
	z   []float32 // B·dim_z
	y   []int64
	z2d [][]float32
}

func newRawInputs(b int, seed uint64) rawInputs {
	rng := rand.New(rand.NewPCG(seed, 0))
	in := rawInputs{}
	for i := range b {
		row := make([]float32, smallCfg.DimZ)
		for k := range row {
			row[k] = float32(rng.NormFloat64())
		}
		in.z2d = append(in.z2d, row)
		in.z = append(in.z, row...)
		in.y = append(in.y, int64(i%smallCfg.NClasses))
	}
	return in
}

func (in rawInputs) z64() [][]float64 {
	out := make([][]float64, len(in.z2d))
	for i, row := range in.z2d {
		for _, v := range row {
			out[i] = append(out[i], float64(v))
		}
	}
	return out
}

func (in rawInputs) y32() []int32 {
	out := make([]int32, len(in.y))
	for i, c := range in.y {
		out[i] = int32(c)
	}
	return out
}

// loadSampler reads the generator that sample draws from a model
// directory by default (G_ema), or G.
func loadSampler(t *testing.T, dir, which string) (*biggan.Generator, func()) {
	t.Helper()
	m, err := biggan.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if which == "G" {
		return m.G, m.Free
	}
	return m.Sampler(), m.Free
}

func sameFloats(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d = %v, want %v exactly", what, i, got[i], want[i])
		}
	}
}

func TestSampleRaw(t *testing.T) {
	f := fixtures(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	const b = 5
	in := newRawInputs(b, 7)
	zPath := writeNpyFile(t, p("z.npy"), in.z2d)
	yPath := writeNpyFile(t, p("y.npy"), in.y)
	z64Path := writeNpyFile(t, p("z64.npy"), in.z64())
	y32Path := writeNpyFile(t, p("y32.npy"), in.y32())

	ema, free := loadSampler(t, f.model, "G_ema")
	defer free()
	want, err := ema.Images(in.z, in.y, 50)
	if err != nil {
		t.Fatal(err)
	}
	// oneDNN's results depend on the batch size: --batch 2 draws what
	// batches of 2 draw.
	want2, err := ema.Images(in.z, in.y, 2)
	if err != nil {
		t.Fatal(err)
	}
	gOnly, freeG := loadSampler(t, f.model, "G")
	defer freeG()
	wantG, err := gOnly.Images(in.z, in.y, 50)
	if err != nil {
		t.Fatal(err)
	}
	// Embeddings halfway between each class's and the next one's.
	var emb [][]float32
	var embFlat []float32
	{
		next := make([]int64, b)
		for i, c := range in.y {
			next[i] = (c + 1) % int64(smallCfg.NClasses)
		}
		half := slices.Repeat([]float32{0.5}, b)
		wantBlend, err := ema.Blend(in.z, in.y, next, half, 50)
		if err != nil {
			t.Fatal(err)
		}
		s := torch.NewScope()
		e, err := ema.Embed(s, s.FromInt64(in.y, b)).Float32()
		if err != nil {
			t.Fatal(err)
		}
		en, err := ema.Embed(s, s.FromInt64(next, b)).Float32()
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		d := smallCfg.SharedDim
		for i := range b {
			row := make([]float32, d)
			for k := range row {
				row[k] = 0.5*e[i*d+k] + 0.5*en[i*d+k]
			}
			emb = append(emb, row)
			embFlat = append(embFlat, row...)
		}
		wantEmb, err := ema.FromEmbeddings(in.z, embFlat, 50)
		if err != nil {
			t.Fatal(err)
		}
		// The blend is the same embedding, computed the same way.
		sameFloats(t, "Blend vs FromEmbeddings", wantBlend, wantEmb)
	}
	embPath := writeNpyFile(t, p("e.npy"), emb)
	wantEmb, err := ema.FromEmbeddings(in.z, embFlat, 50)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want []float32
	}{
		{"float32 z, int64 y", []string{"--model", f.model, "--z", zPath, "--classes", yPath}, want},
		{"float64 z, int32 y", []string{"--model", f.model, "--z", z64Path, "--classes", y32Path}, want},
		{"--g file", []string{"--g", filepath.Join(f.model, "G_ema.safetensors"), "--z", zPath, "--classes", yPath}, want},
		{"--generator G", []string{"--model", f.model, "--generator", "G", "--z", zPath, "--classes", yPath}, wantG},
		{"--embeddings", []string{"--model", f.model, "--z", zPath, "--embeddings", embPath}, wantEmb},
		{"batch of 2", []string{"--model", f.model, "--z", zPath, "--classes", yPath, "--batch", "2"}, want2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := p(fmt.Sprintf("out%d.npy", i))
			stdout, err := ganshift(t, append([]string{"sample", "--raw", out}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "wrote "+out) {
				t.Errorf("stdout %q, want it to name %s", stdout, out)
			}
			dtype, shape, got := readNpyBack(t, out)
			if dtype != "<f4" || !slices.Equal(shape, []int{b, 3, 32, 32}) {
				t.Errorf("%s is %s %v, want <f4 [%d 3 32 32]", out, dtype, shape, b)
			}
			sameFloats(t, out, got, tt.want)
		})
	}

	t.Run("bn-mode batch", func(t *testing.T) {
		out := p("batch.npy")
		if _, err := ganshift(t, "sample", "--model", f.model, "--z", zPath, "--classes", yPath, "--bn-mode", "batch", "--raw", out); err != nil {
			t.Fatal(err)
		}
		_, shape, got := readNpyBack(t, out)
		if !slices.Equal(shape, []int{b, 3, 32, 32}) {
			t.Fatalf("shape %v", shape)
		}
		// The same forward pass in training mode on a fresh copy of G_ema.
		g, free := loadSampler(t, f.model, "G_ema")
		defer free()
		s := torch.NewScope()
		defer s.Close()
		s.SetGrad(false)
		x := g.Sample(s, s.FromFloat32(in.z, b, int64(smallCfg.DimZ)), s.FromInt64(in.y, b), true)
		wantBatch, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		sameFloats(t, "batch statistics", got, wantBatch)
		if slices.Equal(got, want) {
			t.Error("batch statistics drew what stored statistics draw")
		}
		// Batch statistics depend on the whole batch: the first two
		// samples alone come out differently.
		zTwo := writeNpyFile(t, p("z2.npy"), in.z2d[:2])
		yTwo := writeNpyFile(t, p("y2.npy"), in.y[:2])
		outTwo := p("batch2.npy")
		if _, err := ganshift(t, "sample", "--model", f.model, "--z", zTwo, "--classes", yTwo, "--bn-mode", "batch", "--raw", outTwo); err != nil {
			t.Fatal(err)
		}
		_, _, two := readNpyBack(t, outTwo)
		if slices.Equal(two, got[:len(two)]) {
			t.Error("the first two samples are the same in a batch of 2 as in a batch of 5")
		}
		// ...while stored statistics draw each sample on its own.
		outStored := p("stored2.npy")
		if _, err := ganshift(t, "sample", "--model", f.model, "--z", zTwo, "--classes", yTwo, "--raw", outStored); err != nil {
			t.Fatal(err)
		}
		_, _, stored := readNpyBack(t, outStored)
		sameFloats(t, "stored statistics, first two", stored, want[:len(stored)])
		// The model directory is unchanged: stored mode still draws want.
		g2, free2 := loadSampler(t, f.model, "G_ema")
		defer free2()
		again, err := g2.Images(in.z, in.y, 50)
		if err != nil {
			t.Fatal(err)
		}
		sameFloats(t, "after --bn-mode batch", again, want)
	})
}

func TestScoreRaw(t *testing.T) {
	f := fixtures(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	const b = 4
	in := newRawInputs(b, 3)
	m, err := biggan.LoadDir(f.model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	x, err := m.Sampler().Images(in.z, in.y, 50)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.D.Scores(x, in.y, 50)
	if err != nil {
		t.Fatal(err)
	}
	want3, err := m.D.Scores(x, in.y, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Images as sample --raw writes them.
	xPath := p("x.npy")
	if _, err := ganshift(t, "sample", "--model", f.model, "--z", writeNpyFile(t, p("z.npy"), in.z2d),
		"--classes", writeNpyFile(t, p("y.npy"), in.y), "--raw", xPath); err != nil {
		t.Fatal(err)
	}
	x64 := make([][][][]float64, b)
	for i := range x64 {
		x64[i] = make([][][]float64, 3)
		for c := range 3 {
			x64[i][c] = make([][]float64, 32)
			for r := range 32 {
				for k := range 32 {
					x64[i][c][r] = append(x64[i][c][r], float64(x[((i*3+c)*32+r)*32+k]))
				}
			}
		}
	}
	x64Path := writeNpyFile(t, p("x64.npy"), x64)
	yPath, y32Path := p("y.npy"), writeNpyFile(t, p("y32.npy"), in.y32())

	tests := []struct {
		name string
		args []string
		want []float32
	}{
		{"--model", []string{"--model", f.model, "--images", xPath, "--classes", yPath}, want},
		{"--d file", []string{"--d", filepath.Join(f.model, "D.safetensors"), "--images", xPath, "--classes", yPath}, want},
		{"--model G=,D=", []string{"--model", "G=" + filepath.Join(f.model, "G.safetensors") + ",D=" + filepath.Join(f.model, "D.safetensors"), "--images", xPath, "--classes", yPath}, want},
		{"float64 images, int32 classes", []string{"--model", f.model, "--images", x64Path, "--classes", y32Path}, want},
		{"batch of 3", []string{"--model", f.model, "--images", xPath, "--classes", yPath, "--batch", "3"}, want3},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := p(fmt.Sprintf("scores%d.npy", i))
			if _, err := ganshift(t, append([]string{"score", "--raw", out}, tt.args...)...); err != nil {
				t.Fatal(err)
			}
			dtype, shape, got := readNpyBack(t, out)
			if dtype != "<f4" || !slices.Equal(shape, []int{b, 1}) {
				t.Errorf("%s is %s %v, want <f4 [%d 1]", out, dtype, shape, b)
			}
			sameFloats(t, out, got, tt.want)
		})
	}
}

// TestRawBadInput checks the errors of sample --raw and score on bad
// files: each names the flag and file and says what is wrong, and no
// output is left behind.
func TestRawBadInput(t *testing.T) {
	f := fixtures(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, data []byte) string {
		if err := os.WriteFile(p(name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p(name)
	}
	in := newRawInputs(3, 1)
	z := writeNpyFile(t, p("z.npy"), in.z2d)
	y := writeNpyFile(t, p("y.npy"), in.y)
	yFour := writeNpyFile(t, p("y4.npy"), []int64{0, 1, 2, 0})
	yBig := writeNpyFile(t, p("ybig.npy"), []int64{0, 3, 1})
	yNeg := writeNpyFile(t, p("yneg.npy"), []int32{0, -1, 1})
	yFloat := writeNpyFile(t, p("yfloat.npy"), []float32{0, 1, 2})
	y2d := writeNpyFile(t, p("y2d.npy"), [][]int64{{0}, {1}, {2}})
	zInt := writeNpyFile(t, p("zint.npy"), [][]int64{{1, 2}, {3, 4}, {5, 6}})
	zWide := writeNpyFile(t, p("zwide.npy"), [][]float32{make([]float32, 20), make([]float32, 20), make([]float32, 20)})
	z1d := writeNpyFile(t, p("z1d.npy"), make([]float32, 48))
	zEmpty := write("zempty.npy", handNpy("<f4", false, "(0, 16)", nil))
	zFortran := write("zfortran.npy", handNpy("<f4", true, "(3, 16)", make([]byte, 3*16*4)))
	zBool := write("zbool.npy", handNpy("|b1", false, "(3, 16)", make([]byte, 3*16)))
	zText := write("ztext.npy", []byte("not numpy at all\n"))
	zCut := write("zcut.npy", handNpy("<f4", false, "(3, 16)", make([]byte, 100)))
	zNoNL := write("znonl.npy", []byte("\x93NUMPY\x01\x00\x04\x00{}  "))
	zHdrCut := write("zhdrcut.npy", []byte("\x93NUMPY\x01\x00\x40\x00{'descr'"))
	embWrong := writeNpyFile(t, p("e.npy"), [][]float32{make([]float32, 5), make([]float32, 5), make([]float32, 5)})
	x16 := writeNpyFile(t, p("x16.npy"), zeros4(3, 3, 16, 16))
	x32 := writeNpyFile(t, p("x32.npy"), zeros4(3, 3, 32, 32))
	x3d := writeNpyFile(t, p("x3d.npy"), zeros4(1, 3, 32, 32)[0])
	out := p("out.npy")
	raw := func(args ...string) []string { return append(args, "--raw", out) }
	dFile, gFile := filepath.Join(f.model, "D.safetensors"), filepath.Join(f.model, "G.safetensors")

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no --z", raw("sample", "--model", f.model, "--classes", y), []string{"--z Z.npy"}},
		{"neither classes nor embeddings", raw("sample", "--model", f.model, "--z", z), []string{"--classes Y.npy", "--embeddings E.npy"}},
		{"classes and embeddings", raw("sample", "--model", f.model, "--z", z, "--classes", y, "--embeddings", embWrong), []string{"one of them"}},
		{"classes not a file", raw("sample", "--model", f.model, "--z", z, "--classes", "0,1,2"), []string{`--classes "0,1,2"`, ".npy file"}},
		{"bad bn mode", raw("sample", "--model", f.model, "--z", z, "--classes", y, "--bn-mode", "train"), []string{`--bn-mode "train"`}},
		{"--out with --raw", raw("sample", "--model", f.model, "--z", z, "--classes", y, "--out", p("o")), []string{"--out does not apply"}},
		{"two models", raw("sample", "--model", f.model, "--model", f.modelB, "--z", z, "--classes", y), []string{"one model, not 2"}},
		{"missing z", raw("sample", "--model", f.model, "--z", p("nope.npy"), "--classes", y), []string{"--z", p("nope.npy"), "no such file"}},
		{"z not npy", raw("sample", "--model", f.model, "--z", zText, "--classes", y), []string{"--z " + zText, "not a NumPy .npy file"}},
		{"z header without newline", raw("sample", "--model", f.model, "--z", zNoNL, "--classes", y), []string{"--z " + zNoNL, "malformed .npy header"}},
		{"z header cut", raw("sample", "--model", f.model, "--z", zHdrCut, "--classes", y), []string{"--z " + zHdrCut, "malformed .npy header"}},
		{"z truncated", raw("sample", "--model", f.model, "--z", zCut, "--classes", y), []string{"--z " + zCut, "truncated", "(3, 16)"}},
		{"z integers", raw("sample", "--model", f.model, "--z", zInt, "--classes", y), []string{"--z " + zInt, "int64", "float32 or float64"}},
		{"z bool", raw("sample", "--model", f.model, "--z", zBool, "--classes", y), []string{"--z " + zBool, "|b1"}},
		{"z wrong dim_z", raw("sample", "--model", f.model, "--z", zWide, "--classes", y), []string{"--z " + zWide, "shape (3, 20)", "dim_z is 16"}},
		{"z one-dimensional", raw("sample", "--model", f.model, "--z", z1d, "--classes", y), []string{"shape (48,)", "(B, 16)"}},
		{"z empty", raw("sample", "--model", f.model, "--z", zEmpty, "--classes", y), []string{"--z " + zEmpty, "no rows"}},
		{"z fortran", raw("sample", "--model", f.model, "--z", zFortran, "--classes", y), []string{"--z " + zFortran, "Fortran order"}},
		{"classes float", raw("sample", "--model", f.model, "--z", z, "--classes", yFloat), []string{"--classes " + yFloat, "float32", "integer"}},
		{"classes 2-d", raw("sample", "--model", f.model, "--z", z, "--classes", y2d), []string{"--classes " + y2d, "shape (3, 1)", "(B,)"}},
		{"classes batch mismatch", raw("sample", "--model", f.model, "--z", z, "--classes", yFour), []string{"--classes " + yFour, "4 rows", "--z " + z, "3"}},
		{"class out of range", raw("sample", "--model", f.model, "--z", z, "--classes", yBig), []string{"--classes " + yBig, "class 3 at row 1 outside 0..2"}},
		{"negative class", raw("sample", "--model", f.model, "--z", z, "--classes", yNeg), []string{"--classes " + yNeg, "class -1 at row 1"}},
		{"embeddings wrong size", raw("sample", "--model", f.model, "--z", z, "--embeddings", embWrong), []string{"--embeddings " + embWrong, "shape (3, 5)", "(B, 8)"}},
		{"npy without --raw", []string{"sample", "--model", f.model, "--classes", y, "--out", p("o")}, []string{"--classes " + y, "--raw"}},
		{"z without --raw", []string{"sample", "--model", f.model, "--z", z, "--out", p("o")}, []string{"--z " + z, "--raw"}},
		{"bn-mode without --raw", []string{"sample", "--model", f.model, "--bn-mode", "batch", "--out", p("o")}, []string{"--bn-mode batch", "--raw"}},

		{"score: missing flags", []string{"score", "--model", f.model}, []string{"need --images, --classes and --raw"}},
		{"score: wrong resolution", raw("score", "--model", f.model, "--images", x16, "--classes", y), []string{"--images " + x16, "shape (3, 3, 16, 16)", "(B, 3, 32, 32)"}},
		{"score: not images", raw("score", "--model", f.model, "--images", x3d, "--classes", y), []string{"--images " + x3d, "shape (3, 32, 32)"}},
		{"score: class out of range", raw("score", "--d", dFile, "--images", x32, "--classes", yBig), []string{"--classes " + yBig, "class 3 at row 1"}},
		{"score: rows differ", raw("score", "--model", f.model, "--images", x32, "--classes", yFour), []string{"--classes " + yFour, "4 rows", "--images " + x32}},
		{"score: integer images", raw("score", "--model", f.model, "--images", zInt, "--classes", y), []string{"--images " + zInt, "int64"}},
		{"score: G file as --d", raw("score", "--d", gFile, "--images", x32, "--classes", y), []string{gFile}},
		{"score: --d and --model", raw("score", "--d", dFile, "--model", f.model, "--images", x32, "--classes", y), []string{"not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ganshift(t, tt.args...)
			if err == nil {
				t.Fatalf("ganshift %s succeeded, want an error", strings.Join(tt.args, " "))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			for _, leftover := range []string{out, p("o")} {
				if _, serr := os.Stat(leftover); serr == nil {
					t.Fatalf("%s written despite the error", leftover)
				}
			}
		})
	}
}

func zeros4(a, b, c, d int) [][][][]float32 {
	v := make([][][][]float32, a)
	for i := range v {
		v[i] = make([][][]float32, b)
		for j := range v[i] {
			v[i][j] = make([][]float32, c)
			for k := range v[i][j] {
				v[i][j][k] = make([]float32, d)
			}
		}
	}
	return v
}
