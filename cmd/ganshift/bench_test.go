package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ganshift/torch"
)

// TestBenchQuick runs the harness end to end on the demo-size cases
// without the peer: each case in a child process (this test binary as
// ganshift), a table row with a measured time, and for the bf16 row the
// drift of G's samples against float32.
func TestBenchQuick(t *testing.T) {
	t.Setenv(asCommandEnv, "1") // the children run as the command
	out := filepath.Join(t.TempDir(), "perf.md")
	if _, err := ganshift(t, "bench", "--quick", "--only", "step32,step32-bf16", "--python", "", "--out", out); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	row := regexp.MustCompile(`(?m)^\| step32 \| .* \| 3 \+ 1 warm-up \| [0-9.]+ m?s \| – \| – \|`)
	if !row.MatchString(md) {
		t.Errorf("no step32 row with a time and no peer:\n%s", md)
	}
	if !torch.BF16Supported() {
		if strings.Contains(md, "| step32-bf16 |") {
			t.Errorf("a bf16 row on a CPU without bf16:\n%s", md)
		}
		return
	}
	drift := regexp.MustCompile(`after 5 identical steps: max abs diff ([0-9.e-]+), mean ([0-9.e-]+) \(the float32 samples moved by ([0-9.e-]+)`)
	m := drift.FindStringSubmatch(md)
	if m == nil {
		t.Fatalf("no drift cell in the bf16 row:\n%s", md)
	}
	// bf16 rounding must show, and stay below the change the steps make.
	if m[1] == "0" || m[2] == "0" {
		t.Errorf("bf16 samples equal float32's exactly (max %s, mean %s)", m[1], m[2])
	}
	if m[3] == "0" {
		t.Errorf("5 steps did not move the samples")
	}
}
