package main

import (
	"path/filepath"
	"strings"
	"testing"

	"ganshift/classifier"
)

// TestTrainClassifierResNet starts train-classifier from torchvision-layout
// .pth backbones: the architecture comes from the file, the head is
// replaced, the size defaults to 224 unless given.
func TestTrainClassifierResNet(t *testing.T) {
	f := fixtures(t)
	tiny := filepath.Join("..", "..", "classifier", "testdata", "pth", "tiny_ok.pth")
	tests := []struct {
		name     string
		args     []string
		wantCfg  classifier.Config
		wantErr  []string
		augments bool
	}{
		{"pth backbone", []string{"--backbone", tiny, "--size", "32"},
			classifier.Config{Arch: "resnet18", Width: 2, Size: 32, Classes: 2, Target: 1}, nil, true},
		{"pth backbone, no augmentation", []string{"--backbone", tiny, "--size", "40", "--augment=false"},
			classifier.Config{Arch: "resnet18", Width: 2, Size: 40, Classes: 2, Target: 1}, nil, false},
		{"random resnet", []string{"--backbone", "none", "--arch", "resnet18", "--size", "32"},
			classifier.Config{Arch: "resnet18", Size: 32, Classes: 2, Target: 1}, nil, true},
		{"arch conflict", []string{"--backbone", tiny, "--arch", "resnet50"},
			classifier.Config{}, []string{"--arch resnet50", "tiny_ok.pth", "resnet18"}, false},
		{"broken pth", []string{"--backbone", filepath.Join("..", "..", "classifier", "testdata", "pth", "bad_shape.pth")},
			classifier.Config{}, []string{"bad_shape.pth", `"layer2.0.conv2.weight"`}, false},
		{"unknown arch", []string{"--backbone", "none", "--arch", "resnet19"},
			classifier.Config{}, []string{`"resnet19"`}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "c.safetensors")
			args := append([]string{"train-classifier", "--mode", "contrastive", "--domain", f.imagesA, "--new", f.imagesB,
				"--epochs", "1", "--batch", "4", "--held-out", "2", "--out", out}, tc.args...)
			_, err := ganshift(t, args...)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := classifier.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Free()
			w := tc.wantCfg
			if c.Cfg.Arch != w.Arch || c.Cfg.Width != w.Width || c.Cfg.Size != w.Size || c.Cfg.Classes != w.Classes || c.Cfg.Target != w.Target {
				t.Errorf("config %+v, want %+v", c.Cfg, w)
			}
			opts, _ := c.Cfg.Training["options"].(map[string]any)
			if got, _ := opts["augment"].(bool); got != tc.augments {
				t.Errorf("recorded augment %v, want %v (options %v)", got, tc.augments, opts)
			}
		})
	}
}
