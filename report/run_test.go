package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fakeConfig is a config.json as finetune writes it, iterations left open.
const fakeConfig = `{
  "options": {"w_cls": 0.5, "w_d": 2, "iters": %d, "batch": 9, "snapshot_every": 2,
    "lr": 0.0001, "seed": 1, "classes": null, "bn_mode": "batch", "train": ["blocks.*"]},
  "model": "embedded:mnist32",
  "generator": "G_ema",
  "classifier": "joint <1>.safetensors",
  "model_config": {"resolution": 32, "attn": [16]},
  "classifier_config": {"arch": "smallcnn", "training": {}},
  "threads": 2
}`

// sheetColor is the colour of the sheet of iteration it in a fake run.
func sheetColor(it int) color.RGBA {
	return color.RGBA{uint8(40 * it), 200, uint8(255 - 30*it), 255}
}

// fakeSheet is a sheet.Grid of cols×rows samples of side cell with
// padding pad on white, each sample filled with c.
func fakeSheet(cols, rows, cell, pad int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, cols*cell+(cols+1)*pad, rows*cell+(rows+1)*pad))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for r := range rows {
		for k := range cols {
			x0, y0 := pad+k*(cell+pad), pad+r*(cell+pad)
			for y := range cell {
				for x := range cell {
					img.SetRGBA(x0+x, y0+y, c)
				}
			}
		}
	}
	return img
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeRun writes a run directory of iters planned iterations with
// metrics up to done, snapshots at snaps (4×3 sheets of 8 px samples) and
// a half-written snapshot directory, as a run in progress has.
func fakeRun(t *testing.T, dir string, iters, done int, snaps []int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "snapshots", "000099.tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), fmt.Appendf(nil, fakeConfig, iters), 0o644); err != nil {
		t.Fatal(err)
	}
	var m strings.Builder
	m.WriteString("iter,loss,cls_loss,d_loss,target_prob,d_score\n")
	for it := 1; it <= done; it++ {
		fmt.Fprintf(&m, "%d,%g,%g,%g,%g,%g\n", it, 3-0.25*float64(it), 1/float64(it), 0.5, 0.1*float64(it), -0.5)
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.csv"), []byte(m.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, it := range snaps {
		writePNG(t, filepath.Join(dir, filepath.FromSlash(SamplesPath(it))), fakeSheet(4, 3, 8, 2, sheetColor(it)))
	}
	if done > 0 {
		writePNG(t, filepath.Join(dir, "loss.png"), fakeSheet(1, 1, 4, 1, color.RGBA{0, 0, 0, 255}))
	}
}

func TestReadRun(t *testing.T) {
	dir := t.TempDir()
	fakeRun(t, dir, 4, 4, []int{0, 2, 4})
	r, err := ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Snapshots, []int{0, 2, 4}) {
		t.Errorf("snapshots %v, want [0 2 4] (000099.tmp is not one)", r.Snapshots)
	}
	if r.Iters != 4 || r.WCls != 0.5 || r.WD != 2 || !r.Done() || r.Last() != 4 || !r.HasPlot {
		t.Errorf("iters %d w_cls %v w_d %v done %v last %d plot %v, want 4 0.5 2 true 4 true",
			r.Iters, r.WCls, r.WD, r.Done(), r.Last(), r.HasPlot)
	}
	if got := r.Metrics.Col("target_prob"); len(got) != 4 || got[3] != 0.4 {
		t.Errorf("target_prob column %v, want 4 values ending in 0.4", got)
	}
	row, ok := r.Metrics.Row(2)
	if !ok || row["loss"] != 2.5 {
		t.Errorf("row of iteration 2: %v %v, want loss 2.5", row, ok)
	}
	if _, ok := r.Metrics.Row(0); ok {
		t.Error("metrics have a row for iteration 0; the base has none")
	}
}

func TestReadRunErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no config", map[string]string{}, "is not a run directory"},
		{"bad config", map[string]string{"config.json": "{"}, "config.json"},
		{"bad metrics", map[string]string{"config.json": "{}", "metrics.csv": "iter,loss\n1,x\n"}, `metrics.csv: line 2: column loss`},
		{"empty metrics", map[string]string{"config.json": "{}", "metrics.csv": ""}, "metrics.csv: empty file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ReadRun(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestFlatten(t *testing.T) {
	tests := []struct {
		json string
		want []Field
	}{
		{`{"b": 1, "a": "x"}`, []Field{{"b", "1"}, {"a", "x"}}},
		{`{"o": {"w": 0.5, "l": [1, 2], "n": null}, "e": {}}`, []Field{{"o.w", "0.5"}, {"o.l", "[1,2]"}, {"o.n", ""}, {"e", "{}"}}},
		{`{"big": 1e-06, "s": "a\"b"}`, []Field{{"big", "1e-06"}, {"s", `a"b`}}},
	}
	for _, tc := range tests {
		got, err := Flatten([]byte(tc.json))
		if err != nil {
			t.Errorf("Flatten(%s): %v", tc.json, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Flatten(%s) = %v, want %v", tc.json, got, tc.want)
		}
	}
	if _, err := Flatten([]byte(`{"a": `)); err == nil {
		t.Error("Flatten of truncated JSON: no error")
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 1000, []float64{0, 200, 400, 600, 800, 1000}},
		{0, 4, []float64{0, 1, 2, 3, 4}},
		{-0.13, 0.92, []float64{0, 0.2, 0.4, 0.6, 0.8}},
		{2, 2, []float64{2}},
	}
	for _, tc := range tests {
		got := ticks(tc.lo, tc.hi, 5)
		if len(got) != len(tc.want) {
			t.Errorf("ticks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
			continue
		}
		for i := range got {
			if formatNum(got[i]) != formatNum(tc.want[i]) {
				t.Errorf("ticks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
				break
			}
		}
	}
}

func TestCurvesSVG(t *testing.T) {
	nan := 0.0
	nan /= nan
	svg := CurvesSVG(
		Panel{Title: "a<b", Lines: []Line{{Name: "x&y", X: []float64{1, 2, 3, 4}, Y: []float64{1, nan, 3, 4}}}},
		Panel{Title: "flat", Lines: []Line{{Name: "c", X: []float64{1, 2}, Y: []float64{5, 5}}}},
	)
	if got := strings.Count(svg, `<svg class="curve"`); got != 2 {
		t.Errorf("%d panels, want 2", got)
	}
	// The NaN splits the first line in two polylines.
	if got := strings.Count(svg, "<polyline"); got != 3 {
		t.Errorf("%d polylines, want 3 (a NaN breaks a line)", got)
	}
	for _, want := range []string{"a&lt;b", "x&amp;y", `data-x0="0"`, `data-x1="4"`, `class="marker"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "NaN") {
		t.Error("SVG holds a NaN coordinate")
	}
}

// attr returns the value of attribute name of the element with id.
func attr(t *testing.T, page, id, name string) string {
	t.Helper()
	re := regexp.MustCompile(`<[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`)
	tag := re.FindString(page)
	if tag == "" {
		t.Fatalf("no element with id %q", id)
	}
	m := regexp.MustCompile(`\b` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		t.Fatalf("element %q has no %s: %s", id, name, tag)
	}
	return m[1]
}

func TestWriteRun(t *testing.T) {
	tests := []struct {
		name             string
		iters, done      int
		snaps            []int
		wantStatus       string
		wantRefresh      bool
		wantCurves, last int
	}{
		{"finished", 4, 4, []int{0, 2, 4}, "Finished: 4 iterations.", false, 2, 4},
		{"in progress", 10, 5, []int{0, 2, 4}, "Not finished: the last snapshot is of iteration 4 of 10.", true, 2, 4},
		{"just started", 10, 0, []int{0}, "Not finished: the last snapshot is of iteration 0 of 10.", true, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fakeRun(t, dir, tc.iters, tc.done, tc.snaps)
			if err := WriteRun(dir); err != nil {
				t.Fatal(err)
			}
			page := string(readFile(t, filepath.Join(dir, "report.html")))
			if !strings.Contains(page, tc.wantStatus) {
				t.Errorf("page lacks the status %q", tc.wantStatus)
			}
			if got := strings.Contains(page, `http-equiv="refresh"`); got != tc.wantRefresh {
				t.Errorf("reloads itself: %v, want %v", got, tc.wantRefresh)
			}
			if got := strings.Count(page, `<svg class="curve"`); got != tc.wantCurves {
				t.Errorf("%d curve panels, want %d", got, tc.wantCurves)
			}
			if got, want := attr(t, page, "snap", "max"), fmt.Sprint(len(tc.snaps)-1); got != want {
				t.Errorf("slider max %s, want %s", got, want)
			}
			if got, want := attr(t, page, "snap-img", "src"), SamplesPath(tc.last); got != want {
				t.Errorf("shown sheet %s, want %s", got, want)
			}
			if got, want := attr(t, page, "base-img", "src"), SamplesPath(0); got != want {
				t.Errorf("base sheet %s, want %s", got, want)
			}
			for _, want := range []string{
				"<th>options.w_cls</th><td>0.5</td>",
				"<th>options.train</th><td>[&#34;blocks.*&#34;]</td>",
				"<th>classifier</th><td>joint &lt;1&gt;.safetensors</td>",
				"w_cls 0.5 · w_d 2",
			} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			// Opened from disk, no network: nothing is fetched from a URL.
			if m := regexp.MustCompile(`(src|href)="(https?:)?//`).FindString(page); m != "" {
				t.Errorf("page loads %s…", m)
			}
			if strings.Contains(page, "<script src") {
				t.Error("page loads an external script")
			}
		})
	}
}

func TestWriteRunRefusesNonRun(t *testing.T) {
	dir := t.TempDir()
	err := WriteRun(dir)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("WriteRun of an empty directory: %v, want an error naming it", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err == nil {
		t.Error("report.html written for a directory that holds no run")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
