package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput checks that each bad input gets one clear error that names
// what is wrong, and that the command leaves nothing in its output folder.
func TestBadInput(t *testing.T) {
	f := fixtures(t)
	noImages := filepath.Join("testdata", "noimages")
	brokenJPG := filepath.Join("testdata", "brokenjpg")
	tests := []struct {
		name string
		// args gets a fresh, empty folder for outputs.
		args func(out string) []string
		want func(out string) []string // substrings of the error
	}{
		{
			"train-classifier: missing folder",
			func(out string) []string {
				return []string{"train-classifier", "--mode", "contrastive", "--domain", filepath.Join(out, "missing"),
					"--new", "typeset", "--out", filepath.Join(out, "X.safetensors")}
			},
			func(out string) []string { return []string{filepath.Join(out, "missing")} },
		},
		{
			"train-classifier: folder without images",
			func(out string) []string {
				return []string{"train-classifier", "--mode", "contrastive", "--domain", noImages,
					"--new", f.imagesB, "--out", filepath.Join(out, "X.safetensors")}
			},
			func(string) []string { return []string{noImages, "no image files"} },
		},
		{
			"train-classifier: undecodable jpg",
			func(out string) []string {
				return []string{"train-classifier", "--mode", "joint", "--domain", f.imagesA,
					"--new", brokenJPG, "--out", filepath.Join(out, "X.safetensors")}
			},
			func(string) []string { return []string{filepath.Join(brokenJPG, "b-broken.jpg")} },
		},
		{
			"train-classifier: unknown mode",
			func(out string) []string {
				return []string{"train-classifier", "--mode", "both", "--domain", f.imagesA, "--new", f.imagesB,
					"--backbone", "none", "--out", filepath.Join(out, "X.safetensors")}
			},
			func(string) []string { return []string{`"both"`, "contrastive", "joint"} },
		},
		{
			"train-classifier: not safetensors",
			func(out string) []string {
				return []string{"train-classifier", "--mode", "joint", "--out", filepath.Join(out, "X.pt")}
			},
			func(out string) []string { return []string{filepath.Join(out, "X.pt"), ".safetensors"} },
		},
		{
			"train-classifier: bad typeset spec",
			func(out string) []string {
				return []string{"train-classifier", "--mode", "joint", "--domain", f.imagesA, "--new", "typeset:many",
					"--out", filepath.Join(out, "X.safetensors")}
			},
			func(string) []string { return []string{`"typeset:many"`, "typeset:N:SEED"} },
		},
		{
			"train-classifier: typeset spec with trailing text",
			func(out string) []string {
				return []string{"train-classifier", "--mode", "joint", "--domain", f.imagesA, "--new", "typeset:8:1x",
					"--out", filepath.Join(out, "X.safetensors")}
			},
			func(string) []string { return []string{`"typeset:8:1x"`, "typeset:N:SEED"} },
		},
		{
			"train-classifier: missing backbone",
			func(out string) []string {
				return []string{"train-classifier", "--mode", "joint", "--domain", f.imagesA, "--new", f.imagesB,
					"--held-out", "2", "--batch", "4", "--backbone", filepath.Join(out, "nope.safetensors"),
					"--out", filepath.Join(out, "X.safetensors")}
			},
			func(out string) []string { return []string{filepath.Join(out, "nope.safetensors")} },
		},
		{
			"sample: wrong-shaped tensor",
			func(out string) []string {
				return []string{"sample", "--model", f.badModel, "--out", filepath.Join(out, "S")}
			},
			func(string) []string {
				return []string{filepath.Join(f.badModel, "G.safetensors"), `"linear.weight"`, "[256 5]", "[256 4]"}
			},
		},
		{
			"sample: missing model",
			func(out string) []string {
				return []string{"sample", "--model", filepath.Join(out, "nomodel"), "--out", filepath.Join(out, "S")}
			},
			func(out string) []string { return []string{filepath.Join(out, "nomodel"), "no such file or directory"} },
		},
		{
			"sample: class out of range",
			func(out string) []string {
				return []string{"sample", "--model", f.model, "--classes", "99", "--out", filepath.Join(out, "S")}
			},
			func(string) []string { return []string{"--classes", "class 99 outside 0..2"} },
		},
		{
			"sample: class not a number",
			func(out string) []string {
				return []string{"sample", "--model", f.model, "--classes", "0,one", "--out", filepath.Join(out, "S")}
			},
			func(string) []string { return []string{"--classes", `"one"`} },
		},
		{
			"sample: no samples",
			func(out string) []string {
				return []string{"sample", "--model", f.model, "--n", "0", "--out", filepath.Join(out, "S")}
			},
			func(string) []string { return []string{"--n 0"} },
		},
		{
			"sample: models that cannot share z",
			func(out string) []string {
				return []string{"sample", "--model", f.model, "--model", "default", "--out", filepath.Join(out, "S")}
			},
			func(string) []string { return []string{"cannot share z and y"} },
		},
		{
			"finetune: missing classifier",
			func(out string) []string {
				return []string{"finetune", "--model", f.model, "--classifier", filepath.Join(out, "none.safetensors"),
					"--iters", "2", "--out", filepath.Join(out, "R")}
			},
			func(out string) []string { return []string{filepath.Join(out, "none.safetensors")} },
		},
		{
			"finetune: not a classifier file",
			func(out string) []string {
				return []string{"finetune", "--model", f.model, "--classifier", filepath.Join(f.model, "G.safetensors"),
					"--iters", "2", "--out", filepath.Join(out, "R")}
			},
			func(string) []string {
				return []string{filepath.Join(f.model, "G.safetensors"), "not a ganshift classifier"}
			},
		},
		{
			"finetune: text file as classifier",
			func(out string) []string {
				return []string{"finetune", "--model", f.model, "--classifier", filepath.Join("..", "..", "checkpoint", "testdata", "text.safetensors"),
					"--iters", "2", "--out", filepath.Join(out, "R")}
			},
			func(string) []string { return []string{"text.safetensors", "not a safetensors file"} },
		},
		{
			"finetune: --train matching nothing",
			func(out string) []string {
				return []string{"finetune", "--model", f.model, "--classifier", f.cls, "--train", "nothing.*",
					"--iters", "2", "--out", filepath.Join(out, "R")}
			},
			func(string) []string { return []string{"nothing.*", "matches no generator parameter"} },
		},
		{
			"finetune: zero iterations",
			func(out string) []string {
				return []string{"finetune", "--model", f.model, "--classifier", f.cls, "--iters", "0", "--out", filepath.Join(out, "R")}
			},
			func(string) []string { return []string{"iters 0"} },
		},
		{
			"finetune: class out of range",
			func(out string) []string {
				return []string{"finetune", "--model", f.model, "--classifier", f.cls, "--classes", "1,5",
					"--iters", "2", "--out", filepath.Join(out, "R")}
			},
			func(string) []string { return []string{"class 5 outside 0..2"} },
		},
		{
			"finetune: no --out",
			func(string) []string { return []string{"finetune", "--classifier", f.cls} },
			func(string) []string { return []string{"--out"} },
		},
		{
			"finetune: resume a folder that is no run",
			func(out string) []string { return []string{"finetune", "--resume", filepath.Join(out, "R")} },
			func(out string) []string { return []string{filepath.Join(out, "R"), "not a run directory"} },
		},
		{
			"interp: pair not A-B",
			func(out string) []string {
				return []string{"interp", "--model", f.model, "--pairs", "1-x", "--out", filepath.Join(out, "I")}
			},
			func(string) []string { return []string{"--pairs", `"1-x"`} },
		},
		{
			"interp: pair with trailing text",
			func(out string) []string {
				return []string{"interp", "--model", f.model, "--pairs", "0-1,1-2x", "--out", filepath.Join(out, "I")}
			},
			func(string) []string { return []string{"--pairs", `"1-2x"`} },
		},
		{
			"interp: three classes in a pair",
			func(out string) []string {
				return []string{"interp", "--model", f.model, "--pairs", "0-1-2", "--out", filepath.Join(out, "I")}
			},
			func(string) []string { return []string{"--pairs", `"0-1-2"`} },
		},
		{
			"interp: class out of range",
			func(out string) []string {
				return []string{"interp", "--model", f.model, "--pairs", "0-3", "--out", filepath.Join(out, "I")}
			},
			func(string) []string { return []string{"--pairs", "class 3 outside 0..2"} },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			_, err := ganshift(t, tc.args(out)...)
			if err == nil {
				t.Fatalf("ganshift %s succeeded, want an error", strings.Join(tc.args(out), " "))
			}
			msg := err.Error()
			for _, want := range tc.want(out) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			if entries, _ := os.ReadDir(out); len(entries) > 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("output folder holds %v after the error, want nothing", names)
			}
		})
	}
}
