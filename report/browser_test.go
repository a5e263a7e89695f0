package report

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium finds a Chromium to drive headless, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// browse opens target (a file URL) in headless Chromium with the page's
// timers run for 3 s of virtual time, plus args (--dump-dom,
// --screenshot=FILE), and returns stdout and the console messages the page
// logged, errors included.
func browse(t *testing.T, bin, target string, args ...string) (stdout string, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--disable-dev-shm-usage", // containers often have a small /dev/shm
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=3000",
	}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), target)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", target, err, errOut.String())
	}
	for line := range strings.Lines(errOut.String()) {
		if strings.Contains(line, ":CONSOLE") {
			console = append(console, strings.TrimSpace(line))
		}
	}
	return out.String(), console
}

func fileURL(path, fragment string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), Fragment: fragment}
	return u.String()
}

// bodyAttr reads an attribute of <body> from a dumped DOM.
func bodyAttr(dom, name string) string {
	tag := regexp.MustCompile(`<body[^>]*>`).FindString(dom)
	m := regexp.MustCompile(`\b` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}

// driver moves the slider as a user would (a value change and an input
// event), waits for both sheets to load and records what it saw on
// <body>, for --dump-dom to show.
const driver = `<script>
(function () {
  var body = document.body;
  function loaded(img) {
    if (img.complete) {
      return Promise.resolve();
    }
    return new Promise(function (resolve) { img.onload = resolve; img.onerror = resolve; });
  }
  var slider = document.getElementById("snap");
  var img = document.getElementById("snap-img");
  var base = document.getElementById("base-img");
  body.setAttribute("data-test-initial", img.getAttribute("src"));
  slider.value = "1";
  slider.dispatchEvent(new Event("input", {bubbles: true}));
  body.setAttribute("data-test-moved", img.getAttribute("src"));
  body.setAttribute("data-test-marker", document.querySelector("svg.curve .marker").getAttribute("x1"));
  Promise.all([loaded(img), loaded(base)]).then(function () {
    body.setAttribute("data-test-widths", img.naturalWidth + "," + base.naturalWidth);
  });
})();
</script>
</body>`

// TestReportInBrowser opens a run's report.html from disk in headless
// Chromium: the slider swaps the shown snapshot, #iter=N selects one, the
// page logs nothing to the console and renders both sheets.
func TestReportInBrowser(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	fakeRun(t, dir, 4, 4, []int{0, 2, 4})
	if err := WriteRun(dir); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")

	t.Run("slider", func(t *testing.T) {
		text := strings.Replace(string(readFile(t, page)), "</body>", driver, 1)
		drive := filepath.Join(dir, "drive.html")
		if err := os.WriteFile(drive, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		dom, console := browse(t, bin, fileURL(drive, ""), "--dump-dom")
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
		checks := []struct{ attr, want string }{
			{"data-test-initial", SamplesPath(4)},
			{"data-test-moved", SamplesPath(2)},
			{"data-shown-iter", "2"},
			{"data-test-widths", "42,42"}, // both sheets loaded from disk
			{"data-test-marker", "242.0"}, // 56 + 2/4 of 372 px
		}
		for _, c := range checks {
			if got := bodyAttr(dom, c.attr); got != c.want {
				t.Errorf("%s = %q, want %q", c.attr, got, c.want)
			}
		}
		if !strings.Contains(dom, `<output id="snap-label" for="snap">iteration 2 of 4</output>`) {
			t.Error("the slider's label does not say iteration 2 of 4")
		}
	})

	t.Run("fragment", func(t *testing.T) {
		dom, console := browse(t, bin, fileURL(page, "iter=2"), "--dump-dom")
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
		if got := bodyAttr(dom, "data-shown-iter"); got != "2" {
			t.Errorf("#iter=2 shows iteration %q", got)
		}
		if !strings.Contains(dom, `src="`+SamplesPath(2)+`"`) {
			t.Errorf("#iter=2 does not show %s", SamplesPath(2))
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		shot := filepath.Join(t.TempDir(), "shot.png")
		_, console := browse(t, bin, fileURL(page, ""), "--window-size=1000,700", "--screenshot="+shot)
		if len(console) > 0 {
			t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
		}
		f, err := os.Open(shot)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		counts := map[color.RGBA]int{}
		nonWhite := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
				counts[c]++
				if c != (color.RGBA{255, 255, 255, 255}) {
					nonWhite++
				}
			}
		}
		if b.Size() != image.Pt(1000, 700) {
			t.Errorf("screenshot is %v, want 1000x700", b.Size())
		}
		if nonWhite < b.Dx()*b.Dy()/100 {
			t.Errorf("screenshot has %d non-white pixels: blank", nonWhite)
		}
		// Both sheets are drawn: the base (iteration 0) and the last one
		// (iteration 4), 12 samples of 8×8 each.
		for _, it := range []int{0, 4} {
			if got := counts[sheetColor(it)]; got < 12*8*8 {
				t.Errorf("screenshot has %d pixels of sheet %d's colour %v, want at least %d", got, it, sheetColor(it), 12*8*8)
			}
		}
	})
}
