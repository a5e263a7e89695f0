package main

import (
	"bytes"
	"errors"
	"image/gif"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/finetune"
)

// tinyCfg is the smallest BigGAN the commands accept.
var tinyCfg = biggan.Config{Resolution: 32, GCh: 4, DCh: 4, DimZ: 16, SharedDim: 8, NClasses: 3}

// writeTinyModel saves a model directory of tinyCfg with weights from seed.
func writeTinyModel(t *testing.T, dir string, seed uint64) {
	t.Helper()
	g, err := biggan.NewGenerator(tinyCfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	d, err := biggan.NewDiscriminator(tinyCfg, seed+1)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Free()
	if err := biggan.SaveDir(dir, &biggan.Model{Cfg: g.Cfg, G: g, D: d}); err != nil {
		t.Fatal(err)
	}
}

// writeTinyClassifier saves an untrained small classifier of mode.
func writeTinyClassifier(t *testing.T, path, mode string, seed uint64) {
	t.Helper()
	c, err := classifier.New(classifier.Config{Arch: "smallcnn", Size: 32, Classes: 2, Mode: mode, Target: 1}, seed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
}

// shellSplit reads a line of words as a POSIX shell does, for the
// quoting shellJoin uses: plain words and single-quoted strings.
func shellSplit(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted, escaped := false, false, false
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\\':
			escaped, inWord = true, true
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func TestShellJoin(t *testing.T) {
	tests := [][]string{
		{"ganshift", "finetune", "--out", "a/b_c-1.5"},
		{"--train", "blocks.*.bn*", "--classifier", "my file's.safetensors"},
		{"", "$HOME", "a\"b"},
	}
	for _, args := range tests {
		line := shellJoin(args)
		if got := shellSplit(t, line); !slices.Equal(got, args) {
			t.Errorf("shellJoin(%q) = %s, which splits into %q", args, line, got)
		}
	}
}

// mtimes records the modification time of every file under the
// snapshots of run.
func mtimes(t *testing.T, run string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	err := filepath.WalkDir(filepath.Join(run, "snapshots"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[path] = info.ModTime()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSweep runs a 2×2 sweep of a tiny model as a user would: emit the
// jobs and run one by hand, sweep the rest two at a time, sweep again
// (nothing to do), resume a run cut short, and refuse changed settings.
func TestSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four runs")
	}
	tmp := t.TempDir()
	model := filepath.Join(tmp, "model")
	writeTinyModel(t, model, 1)
	clsC, clsJ := filepath.Join(tmp, "c.safetensors"), filepath.Join(tmp, "j.safetensors")
	writeTinyClassifier(t, clsC, classifier.Contrastive, 2)
	writeTinyClassifier(t, clsJ, classifier.Joint, 3)
	out := filepath.Join(tmp, "sweep")
	names := []string{"wcls1_wd0.5_contrastive", "wcls1_wd0.5_joint", "wcls2_wd0.5_contrastive", "wcls2_wd0.5_joint"}
	args := []string{"sweep", "--model", model, "--classifier", "contrastive=" + clsC + ",joint=" + clsJ,
		"--w-cls", "1,2", "--w-d", "0.5", "--mode", "contrastive,joint",
		"--iters", "4", "--snapshot-every", "2", "--batch", "2", "--out", out}

	var lines []string
	t.Run("emit-jobs", func(t *testing.T) {
		jobs := filepath.Join(tmp, "jobs.txt")
		if _, err := ganshift(t, append(args, "--emit-jobs", jobs)...); err != nil {
			t.Fatal(err)
		}
		lines = strings.Split(strings.TrimSpace(string(readFile(t, jobs))), "\n")
		if len(lines) != 4 {
			t.Fatalf("%d job lines, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
		}
		for i, line := range lines {
			words := shellSplit(t, line)
			if len(words) < 2 || words[0] != "ganshift" || words[1] != "finetune" {
				t.Fatalf("line %d is not a ganshift finetune command: %s", i+1, line)
			}
			cmd, rest, err := newRootCmd().Find(words[1:])
			if err != nil || cmd.Name() != "finetune" {
				t.Fatalf("line %d: %v", i+1, err)
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			f := cmd.Flags()
			for flag, want := range map[string]string{
				"out": filepath.Join(out, names[i]), "w-cls": []string{"1", "1", "2", "2"}[i],
				"w-d": "0.5", "classifier": []string{clsC, clsJ}[i%2], "iters": "4", "model": model,
			} {
				if got := f.Lookup(flag).Value.String(); got != want {
					t.Errorf("line %d: --%s %s, want %s", i+1, flag, got, want)
				}
			}
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("--emit-jobs trained: %s exists", out)
		}
		// Run the first job as a cluster would; the sweep then skips it.
		if _, err := ganshift(t, shellSplit(t, lines[0])[1:]...); err != nil {
			t.Fatal(err)
		}
	})

	first := mtimes(t, filepath.Join(out, names[0]))
	t.Run("sweep", func(t *testing.T) {
		start := time.Now()
		if _, err := ganshift(t, append(args, "--jobs", "2")...); err != nil {
			t.Fatal(err)
		}
		t.Logf("3 runs of 4 iterations, 2 at a time: %v", time.Since(start).Round(time.Millisecond))
		for _, n := range names {
			its, err := finetune.Snapshots(filepath.Join(out, n))
			if err != nil || !slices.Equal(its, []int{0, 2, 4}) {
				t.Errorf("%s: snapshots %v (%v), want [0 2 4]", n, its, err)
			}
			if _, err := os.Stat(filepath.Join(out, n, "report.html")); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		}
		if got := mtimes(t, filepath.Join(out, names[0])); !maps.Equal(got, first) {
			t.Error("the sweep redid the run its emitted job had finished")
		}
		// Rows: 4 runs of 2×3 samples (64 px, 2 px apart); columns: the
		// snapshots 0, 2 and 4. Labels: the longest name, 4 px each side.
		img := decodePNG(t, filepath.Join(out, "contact.png"))
		cellW, cellH := 2+3*66, 2+2*66
		w := len(names[0])*7 + 8 + 8 + 3*(cellW+8)
		h := 8 + 13 + 4 + 4*cellH + 3*6 + 8
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("contact.png is %dx%d, want %dx%d (4 rows, 3 columns)", b.Dx(), b.Dy(), w, h)
		}
		page := string(readFile(t, filepath.Join(out, "report.html")))
		for _, n := range names {
			if !strings.Contains(page, `<a href="`+n+`/report.html">`+n+`</a>`) {
				t.Errorf("report.html does not link %s", n)
			}
		}
		if got := strings.Count(page, "done (4)"); got != 4 {
			t.Errorf("report.html shows %d finished runs, want 4", got)
		}
	})

	// A run trained beside another, sharing D and the classifiers, ends
	// where the same run trained alone with as many threads does.
	t.Run("same as alone", func(t *testing.T) {
		alone := filepath.Join(tmp, "alone")
		// The sweep gave each of its 2 workers half the threads.
		threads := strconv.Itoa(max(1, runtime.NumCPU()/2))
		aloneArgs := slices.Clone(args)
		aloneArgs[slices.Index(aloneArgs, "--w-cls")+1] = "1"
		aloneArgs[slices.Index(aloneArgs, "--mode")+1] = "joint"
		aloneArgs[len(aloneArgs)-1] = alone // --out
		if _, err := ganshift(t, append([]string{"--threads", threads}, aloneArgs...)...); err != nil {
			t.Fatal(err)
		}
		for _, it := range []int{2, 4} {
			a := readFile(t, filepath.Join(finetune.SnapshotDir(filepath.Join(alone, names[1]), it), "G.safetensors"))
			b := readFile(t, filepath.Join(finetune.SnapshotDir(filepath.Join(out, names[1]), it), "G.safetensors"))
			if !bytes.Equal(a, b) {
				t.Errorf("iteration %d: G of %s differs from the same run trained alone", it, names[1])
			}
		}
	})

	t.Run("again", func(t *testing.T) {
		before := map[string]map[string]time.Time{}
		for _, n := range names {
			before[n] = mtimes(t, filepath.Join(out, n))
		}
		if _, err := ganshift(t, args...); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if got := mtimes(t, filepath.Join(out, n)); !maps.Equal(got, before[n]) {
				t.Errorf("%s was trained again", n)
			}
		}
	})

	t.Run("resume", func(t *testing.T) {
		run := filepath.Join(out, names[3])
		if err := os.RemoveAll(finetune.SnapshotDir(run, 4)); err != nil {
			t.Fatal(err)
		}
		kept := mtimes(t, filepath.Join(out, names[2]))
		early := mtimes(t, run)
		if _, err := ganshift(t, args...); err != nil {
			t.Fatal(err)
		}
		if its, _ := finetune.Snapshots(run); !slices.Equal(its, []int{0, 2, 4}) {
			t.Errorf("resumed run has snapshots %v, want [0 2 4]", its)
		}
		for path, mt := range early {
			if now := mtimes(t, run)[path]; !now.Equal(mt) {
				t.Errorf("%s was rewritten: the run started over instead of resuming", path)
			}
		}
		if got := mtimes(t, filepath.Join(out, names[2])); !maps.Equal(got, kept) {
			t.Errorf("%s was trained again", names[2])
		}
	})

	t.Run("changed settings", func(t *testing.T) {
		_, err := ganshift(t, append(slices.Clone(args), "--iters", "6")...)
		if err == nil || !strings.Contains(err.Error(), "options.iters is 4, not 6") {
			t.Errorf("sweep over runs of other settings: %v, want an error naming options.iters", err)
		}
	})
}

func TestSweepSettings(t *testing.T) {
	tests := []struct {
		name       string
		classifier string
		modes      string
		wCls, wD   string
		want       []string
		wantErr    string
	}{
		{"single classifier", "c.st", "", "0.5,1", "0", []string{"wcls0.5_wd0", "wcls1_wd0"}, ""},
		{"modes default to all", "a=x,b=y", "", "1", "1", []string{"wcls1_wd1_a", "wcls1_wd1_b"}, ""},
		{"mode subset", "a=x,b=y", "b", "1", "1,2", []string{"wcls1_wd1_b", "wcls1_wd2_b"}, ""},
		{"unknown mode", "a=x", "z", "1", "1", nil, "--mode z: no such"},
		{"mode without map", "c.st", "joint", "1", "1", nil, "--mode picks"},
		{"bad weight", "c.st", "", "1,x", "1", nil, `--w-cls: "x" is not a number`},
		{"duplicate", "c.st", "", "1,1.0", "1", nil, "wcls1_wd1 given twice"},
		{"bad mode name", "a b=x", "", "1", "1", nil, "is not MODE=FILE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &sweepOptions{classifier: tc.classifier, modes: tc.modes, wCls: tc.wCls, wD: tc.wD}
			ss, err := o.settings()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range ss {
				got = append(got, s.name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("settings %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSpread(t *testing.T) {
	its := []int{0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500}
	if got := spread(its, 8); len(got) != 8 || got[0] != 0 || got[7] != 500 || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != 8 {
		t.Errorf("spread of 11 to 8 = %v, want 8 distinct sorted from 0 to 500", got)
	}
	if got := spread(its[:3], 8); !slices.Equal(got, its[:3]) {
		t.Errorf("spread of 3 = %v, want all", got)
	}
}

// TestInterpGIF checks the animation: 2·frames−2 frames back and forth,
// one column per model side by side, the two ends held longer.
func TestInterpGIF(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	writeTinyModel(t, a, 1)
	writeTinyModel(t, b, 5)
	tests := []struct {
		name   string
		models []string
		w, h   int
	}{
		// A column of 2 samples of 64 px, 2 px apart.
		{"one model", []string{a}, 68, 134},
		// sheet.Labeled: 8 px around, a 13 px title line and 4 px gap.
		{"two models", []string{a, b}, 8 + 68 + 8 + 68 + 8, 8 + 13 + 4 + 134 + 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "I")
			args := []string{"interp", "--gif", "--frames", "5", "--delay", "60", "--pairs", "0-1,2-0", "--out", out}
			for _, m := range tc.models {
				args = append(args, "--model", m)
			}
			if _, err := ganshift(t, args...); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(out, "interp.gif"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			g, err := gif.DecodeAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Image) != 8 {
				t.Fatalf("%d frames, want 8 (5 steps there, 3 back)", len(g.Image))
			}
			if g.Config.Width != tc.w || g.Config.Height != tc.h {
				t.Errorf("GIF is %dx%d, want %dx%d", g.Config.Width, g.Config.Height, tc.w, tc.h)
			}
			if want := []int{60, 6, 6, 6, 60, 6, 6, 6}; !slices.Equal(g.Delay, want) {
				t.Errorf("delays %v, want %v", g.Delay, want)
			}
			// Frame 1 and frame 7 are the same step, there and back.
			same := true
			for i := range g.Image[1].Pix {
				same = same && g.Image[1].Pix[i] == g.Image[7].Pix[i]
			}
			if !same || slices.Equal(g.Image[0].Pix, g.Image[4].Pix) {
				t.Error("frames do not go from one class to the other and back")
			}
		})
	}
	if _, err := ganshift(t, "interp", "--gif", "--frames", "1", "--model", a, "--out", filepath.Join(tmp, "x")); err == nil {
		t.Error("--frames 1: no error")
	}
}
