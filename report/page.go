package report

import (
	"bytes"
	"fmt"
	"html/template"
	"path/filepath"
	"strings"

	"ganshift/internal/atomicfile"
)

// RefreshSeconds is how often the page of a run in progress reloads
// itself, keeping the selected snapshot.
const RefreshSeconds = 30

// snapView is one snapshot as the page's script sees it.
type snapView struct {
	Iter    int    `json:"iter"`
	Src     string `json:"src"`
	Metrics string `json:"metrics"`
}

type runPage struct {
	Title    string
	Summary  string
	Status   string
	Refresh  int
	Iters    int
	Snaps    []snapView
	MaxIndex int
	Last     snapView
	BaseSrc  string
	Curves   template.HTML
	HasPlot  bool
	HasRows  bool
	Config   []Field
	CSS      template.CSS
}

// WriteRun writes dir/report.html from the files of the run directory
// dir, replacing the previous one. The page works opened from disk: it
// links the snapshot sheets by relative paths and holds its script, style
// and curves inline.
func WriteRun(dir string) error {
	r, err := ReadRun(dir)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := runTmpl.Execute(&buf, newRunPage(r)); err != nil {
		return fmt.Errorf("report: %s: %w", filepath.Join(dir, "report.html"), err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, "report.html"), buf.Bytes())
}

func newRunPage(r *RunInfo) runPage {
	p := runPage{Title: runTitle(r.Dir), Iters: r.Iters, Config: r.Config, HasPlot: r.HasPlot, CSS: pageCSS}
	cls := ""
	for _, f := range r.Config {
		if f.Key == "classifier" {
			cls = f.Value
		}
	}
	p.Summary = fmt.Sprintf("w_cls %s · w_d %s · classifier %s", formatNum(r.WCls), formatNum(r.WD), cls)
	switch last := r.Last(); {
	case last < 0:
		p.Status = "No snapshot yet."
	case r.Done():
		p.Status = fmt.Sprintf("Finished: %d iterations.", r.Iters)
	default:
		p.Status = fmt.Sprintf("Not finished: the last snapshot is of iteration %d of %d. This page reloads every %d s.", last, r.Iters, RefreshSeconds)
		p.Refresh = RefreshSeconds
	}
	for _, it := range r.Snapshots {
		v := snapView{Iter: it, Src: SamplesPath(it), Metrics: metricsText(r.Metrics, it)}
		p.Snaps = append(p.Snaps, v)
		if it == 0 {
			p.BaseSrc = v.Src
		}
	}
	if len(p.Snaps) > 0 {
		p.MaxIndex = len(p.Snaps) - 1
		p.Last = p.Snaps[p.MaxIndex]
	}
	p.HasRows = len(r.Metrics.Rows) > 0
	if p.HasRows {
		p.Curves = template.HTML(CurvesSVG(runPanels(r)...))
	}
	return p
}

// runPanels are the curves of loss.png: the loss and its two weighted
// terms, and the two scores.
func runPanels(r *RunInfo) []Panel {
	x := r.Metrics.Col("iter")
	var losses, scores []Line
	add := func(dst *[]Line, name, col string, w float64) {
		y := r.Metrics.Col(col)
		if y == nil || x == nil {
			return
		}
		if w != 1 {
			for i := range y {
				y[i] *= w
			}
		}
		*dst = append(*dst, Line{Name: name, X: x, Y: y})
	}
	add(&losses, "loss", "loss", 1)
	add(&losses, "w_cls·cls_loss", "cls_loss", r.WCls)
	add(&losses, "w_d·d_loss", "d_loss", r.WD)
	add(&scores, "target_prob", "target_prob", 1)
	add(&scores, "d_score", "d_score", 1)
	var out []Panel
	if len(losses) > 0 {
		out = append(out, Panel{Title: "losses", Lines: losses})
	}
	if len(scores) > 0 {
		out = append(out, Panel{Title: "scores", Lines: scores})
	}
	return out
}

// metricsText describes the metrics row of iteration it, or says there
// is none (the base snapshot has none).
func metricsText(t Table, it int) string {
	row, ok := t.Row(it)
	if !ok {
		return ""
	}
	var parts []string
	for _, n := range t.Names {
		if n != "iter" {
			parts = append(parts, n+" "+formatNum(row[n]))
		}
	}
	return strings.Join(parts, " · ")
}

// runTitle names a run by its directory.
func runTitle(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Base(dir)
}

const pageCSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { margin-bottom: 0.2em; }
.status, .summary { margin: 0.2em 0; }
.controls { display: flex; align-items: center; gap: 1em; flex-wrap: wrap; margin: 0.5em 0; }
#snap { width: min(40em, 90vw); }
#snap-metrics { color: #555; font-size: 90%; }
.pair { display: flex; gap: 1.5em; flex-wrap: wrap; align-items: flex-start; }
.pair figure { margin: 0; flex: 1 1 0; min-width: 16em; max-width: max-content; }
.pair img, .contact img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ccc; }
figcaption { font-weight: bold; margin-bottom: 0.3em; }
svg.curve { font-size: 11px; margin-right: 1em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
`

var runTmpl = template.Must(template.New("run").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">
{{end}}<title>{{.Title}} · ganshift run</title>
<style>{{.CSS}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="summary">{{.Summary}}</p>
<p class="status" id="status">{{.Status}}</p>

<section id="snapshots">
<h2>Snapshots</h2>
{{if .Snaps}}<div class="controls">
<input type="range" id="snap" min="0" max="{{.MaxIndex}}" step="1" value="{{.MaxIndex}}" aria-label="snapshot">
<output id="snap-label" for="snap">iteration {{.Last.Iter}}</output>
<span id="snap-metrics">{{.Last.Metrics}}</span>
</div>
<div class="pair">
{{if .BaseSrc}}<figure><figcaption>base (iteration 0)</figcaption><img id="base-img" src="{{.BaseSrc}}" alt="base samples"></figure>
{{end}}<figure><figcaption id="snap-caption">iteration {{.Last.Iter}}</figcaption><img id="snap-img" src="{{.Last.Src}}" alt="samples at the selected iteration"></figure>
</div>
<p>Every sheet draws the same z and y: one row per class.</p>
{{else}}<p>No snapshot yet.</p>
{{end}}</section>

<section id="curves">
<h2>Losses and scores</h2>
{{if .HasRows}}{{.Curves}}{{else}}<p>No iteration yet.</p>{{end}}
{{if .HasPlot}}<p><a href="loss.png">loss.png</a> · <a href="metrics.csv">metrics.csv</a></p>{{end}}
</section>

<section id="config">
<h2>Configuration</h2>
<table>
{{range .Config}}<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<p><a href="config.json">config.json</a></p>
</section>

<script>
(function () {
  "use strict";
  var snaps = {{.Snaps}};
  var iters = {{.Iters}};
  var slider = document.getElementById("snap");
  if (!slider || !snaps || snaps.length === 0) {
    return;
  }
  var img = document.getElementById("snap-img");
  var label = document.getElementById("snap-label");
  var caption = document.getElementById("snap-caption");
  var metrics = document.getElementById("snap-metrics");
  var curves = document.querySelectorAll("svg.curve");

  function mark(it) {
    curves.forEach(function (svg) {
      var line = svg.querySelector(".marker");
      var x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
      var x = Number(svg.dataset.left) + (it - x0) / (x1 - x0) * Number(svg.dataset.width);
      line.setAttribute("x1", x.toFixed(1));
      line.setAttribute("x2", x.toFixed(1));
      line.setAttribute("visibility", "visible");
    });
  }

  function show(i) {
    var s = snaps[i];
    slider.value = String(i);
    img.src = s.src;
    label.textContent = "iteration " + s.iter + " of " + iters;
    caption.textContent = "iteration " + s.iter;
    metrics.textContent = s.metrics;
    mark(s.iter);
    document.body.setAttribute("data-shown-iter", String(s.iter));
  }

  slider.addEventListener("input", function () {
    var i = Number(slider.value);
    show(i);
    try {
      history.replaceState(null, "", "#iter=" + snaps[i].iter);
    } catch (e) {
      // Some browsers refuse history changes on file: pages; the slider
      // works without them.
    }
  });

  var start = snaps.length - 1;
  var m = /iter=(\d+)/.exec(location.hash);
  if (m) {
    for (var k = 0; k < snaps.length; k++) {
      if (snaps[k].iter === Number(m[1])) {
        start = k;
      }
    }
  }
  show(start);
})();
</script>
</body>
</html>
`))
