package main

import (
	"strings"
	"testing"

	"ganshift/torch"
)

func TestDeviceFlag(t *testing.T) {
	tests := []struct {
		device, want string
	}{
		{"tpu", `unknown device "tpu"`},
		{"cuda", "needs ganshift built against a CUDA libtorch"},
	}
	for _, tc := range tests {
		t.Run(tc.device, func(t *testing.T) {
			if tc.device == "cuda" {
				if _, err := torch.ParseDevice("cuda"); err == nil {
					t.Skip("this libtorch has CUDA")
				}
			}
			out := t.TempDir()
			_, err := ganshift(t, "--device", tc.device, "sample", "--out", out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if torch.DefaultDevice() != torch.CPU {
				t.Errorf("a refused --device changed the default device to %v", torch.DefaultDevice())
			}
		})
	}
}
