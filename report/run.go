package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Field is one key and value of a flattened JSON object.
type Field struct {
	Key, Value string
}

// Table is the content of a CSV file of numbers with a header line.
type Table struct {
	Names []string
	Rows  [][]float64
}

// Col returns the column called name, or nil when there is none.
func (t Table) Col(name string) []float64 {
	j := -1
	for i, n := range t.Names {
		if n == name {
			j = i
		}
	}
	if j < 0 {
		return nil
	}
	out := make([]float64, len(t.Rows))
	for i, r := range t.Rows {
		out[i] = r[j]
	}
	return out
}

// Row returns the row whose "iter" column is it.
func (t Table) Row(it int) (map[string]float64, bool) {
	iters := t.Col("iter")
	for i, v := range iters {
		if int(v) == it {
			row := make(map[string]float64, len(t.Names))
			for j, n := range t.Names {
				row[n] = t.Rows[i][j]
			}
			return row, true
		}
	}
	return nil, false
}

// RunInfo is what a run directory holds, as report reads it: only its
// files, never the networks.
type RunInfo struct {
	Dir       string
	Config    []Field // config.json flattened ("options.w_cls"), in file order
	Iters     int     // options.iters: the planned number of iterations
	WCls, WD  float64 // options.w_cls and options.w_d
	Metrics   Table   // metrics.csv; no rows before the first iteration
	Snapshots []int   // iterations whose samples.png exists, in order
	HasPlot   bool    // loss.png exists
}

// Last is the iteration of the last snapshot, or -1 when there is none.
func (r *RunInfo) Last() int {
	if len(r.Snapshots) == 0 {
		return -1
	}
	return r.Snapshots[len(r.Snapshots)-1]
}

// Done reports whether the run has its final snapshot.
func (r *RunInfo) Done() bool { return r.Iters > 0 && r.Last() == r.Iters }

// SamplesPath is the path of a snapshot's sheet relative to the run
// directory, with forward slashes, as a page links it.
func SamplesPath(it int) string {
	return fmt.Sprintf("snapshots/%06d/samples.png", it)
}

// ReadRun reads the run directory dir: config.json, metrics.csv (which
// may be missing before the first iteration) and the list of snapshots.
func ReadRun(dir string) (*RunInfo, error) {
	r := &RunInfo{Dir: dir}
	cfgPath := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("report: %s is not a run directory: %w", dir, err)
	}
	if r.Config, err = Flatten(raw); err != nil {
		return nil, fmt.Errorf("report: %s: %w", cfgPath, err)
	}
	var cfg struct {
		Options struct {
			Iters int     `json:"iters"`
			WCls  float64 `json:"w_cls"`
			WD    float64 `json:"w_d"`
		} `json:"options"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("report: %s: %w", cfgPath, err)
	}
	r.Iters, r.WCls, r.WD = cfg.Options.Iters, cfg.Options.WCls, cfg.Options.WD

	mPath := filepath.Join(dir, "metrics.csv")
	if raw, err := os.ReadFile(mPath); err == nil {
		if r.Metrics, err = ParseTable(raw); err != nil {
			return nil, fmt.Errorf("report: %s: %w", mPath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("report: %w", err)
	}

	entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, e := range entries {
		it, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue // NNNNNN.tmp: a snapshot being written
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(SamplesPath(it)))); err == nil {
			r.Snapshots = append(r.Snapshots, it)
		}
	}
	sort.Ints(r.Snapshots)
	_, err = os.Stat(filepath.Join(dir, "loss.png"))
	r.HasPlot = err == nil
	return r, nil
}

// ParseTable reads a CSV file of numbers under a header line.
func ParseTable(raw []byte) (Table, error) {
	cr := csv.NewReader(bytes.NewReader(raw))
	var t Table
	header, err := cr.Read()
	if err == io.EOF {
		return t, errors.New("empty file, want a header line")
	}
	if err != nil {
		return t, err
	}
	t.Names = header
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return t, err
		}
		row := make([]float64, len(rec))
		for j, f := range rec {
			if row[j], err = strconv.ParseFloat(strings.TrimSpace(f), 64); err != nil {
				line, _ := cr.FieldPos(j)
				return t, fmt.Errorf("line %d: column %s: %w", line, header[j], err)
			}
		}
		t.Rows = append(t.Rows, row)
	}
}

// Flatten turns a JSON object into fields named by their path ("a.b"), in
// the order they appear. Arrays are kept as compact JSON; null becomes "".
func Flatten(raw []byte) ([]Field, error) {
	var out []Field
	if err := flatten("", raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func flatten(prefix string, raw []byte, out *[]Field) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return err
		}
		v := buf.String()
		var s string
		switch {
		case v == "null":
			v = ""
		case json.Unmarshal(raw, &s) == nil:
			v = s
		}
		*out = append(*out, Field{Key: strings.TrimSuffix(prefix, "."), Value: v})
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	n := len(*out)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if err := flatten(prefix+tok.(string)+".", v, out); err != nil {
			return err
		}
	}
	if len(*out) == n && prefix != "" { // an empty object
		*out = append(*out, Field{Key: strings.TrimSuffix(prefix, "."), Value: "{}"})
	}
	_, err := dec.Token() // }
	return err
}

// formatNum writes v compactly for a table cell.
func formatNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
