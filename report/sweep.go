package report

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path"
	"path/filepath"

	"ganshift/internal/atomicfile"
)

// SweepRun is one setting of a sweep: its run directory, relative to the
// sweep's directory, and the values that set it apart.
type SweepRun struct {
	Name     string
	Settings []Field
}

// FinalMetrics are the columns a sweep's page shows for every run.
var FinalMetrics = []string{"loss", "target_prob", "d_score"}

type sweepRow struct {
	Name, Link, Report string
	Settings           []string
	Status             string
	Window             string
	Final              []string
}

type sweepPage struct {
	Title   string
	Contact bool
	Keys    []string
	Metrics []string
	Rows    []sweepRow
	CSS     template.CSS
}

// WriteSweep writes dir/report.html: dir/contact.png when it exists and a
// table of the runs dir/NAME with their settings, progress and final
// metrics, each linking the run's own report.html. A run that cannot be
// read is listed with the reason.
func WriteSweep(dir string, runs []SweepRun) error {
	p := sweepPage{Title: runTitle(dir), Metrics: FinalMetrics, CSS: pageCSS}
	if _, err := os.Stat(filepath.Join(dir, "contact.png")); err == nil {
		p.Contact = true
	}
	if len(runs) > 0 {
		for _, f := range runs[0].Settings {
			p.Keys = append(p.Keys, f.Key)
		}
	}
	for _, sr := range runs {
		row := sweepRow{Name: sr.Name, Link: path.Join(sr.Name, "report.html")}
		for _, f := range sr.Settings {
			row.Settings = append(row.Settings, f.Value)
		}
		r, err := ReadRun(filepath.Join(dir, sr.Name))
		switch {
		case err != nil:
			row.Status = "not started"
			row.Link = ""
		case r.Done():
			row.Status = fmt.Sprintf("done (%d)", r.Iters)
		default:
			row.Status = fmt.Sprintf("%d of %d", max(r.Last(), 0), r.Iters)
		}
		if err == nil {
			row.Window, row.Final = finalMetrics(r)
		}
		if len(row.Final) == 0 {
			for range FinalMetrics {
				row.Final = append(row.Final, "—")
			}
		}
		p.Rows = append(p.Rows, row)
	}
	var buf bytes.Buffer
	out := filepath.Join(dir, "report.html")
	if err := sweepTmpl.Execute(&buf, p); err != nil {
		return fmt.Errorf("report: %s: %w", out, err)
	}
	return atomicfile.WriteFile(out, buf.Bytes())
}

// finalMetrics averages FinalMetrics over the iterations of a run's last
// snapshot interval, the samples its last sheet was drawn after, and names
// that window.
func finalMetrics(r *RunInfo) (window string, vals []string) {
	last := r.Last()
	if last <= 0 {
		return "", nil
	}
	prev := 0
	if n := len(r.Snapshots); n > 1 {
		prev = r.Snapshots[n-2]
	}
	iters := r.Metrics.Col("iter")
	for _, name := range FinalMetrics {
		col := r.Metrics.Col(name)
		sum, n := 0.0, 0
		for i, it := range iters {
			if col != nil && int(it) > prev && int(it) <= last {
				sum += col[i]
				n++
			}
		}
		if n == 0 {
			return "", nil
		}
		vals = append(vals, formatNum(sum/float64(n)))
	}
	return fmt.Sprintf("%d–%d", prev+1, last), vals
}

var sweepTmpl = template.Must(template.New("sweep").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}} · ganshift sweep</title>
<style>{{.CSS}}</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>One fine-tuning run per setting; every sheet draws the same z and y.
Run the same <code>ganshift sweep</code> again to continue unfinished runs.</p>
<table id="runs">
<tr><th>run</th>{{range .Keys}}<th>{{.}}</th>{{end}}<th>iterations</th><th>averaged over</th>{{range .Metrics}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{if .Link}}<a href="{{.Link}}">{{.Name}}</a>{{else}}{{.Name}}{{end}}</td>{{range .Settings}}<td>{{.}}</td>{{end}}<td>{{.Status}}</td><td>{{.Window}}</td>{{range .Final}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .Contact}}<h2>Contact sheet</h2>
<p>One row per run, one column per iteration.</p>
<p class="contact"><a href="contact.png"><img src="contact.png" alt="contact sheet"></a></p>
{{end}}</body>
</html>
`))
