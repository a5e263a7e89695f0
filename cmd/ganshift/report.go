package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"ganshift/report"
)

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN...",
		Short: "Write a run's report.html: settings, curves, and its snapshots under a slider",
		Long: `Write RUN/report.html from the run directory's files: the settings of
config.json as a table, the losses and scores of metrics.csv as curves, and
the snapshot sheets with a slider over the iterations, the selected one
beside the base (iteration 0). The page opens from disk in any browser: no
server, no network. Fine-tuning writes it after every snapshot; this
command rewrites it, for runs made before it existed for instance.`,
		Example: `  ganshift report runs/joint
  ganshift report sweeps/weights/*/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, dir := range args {
				if err := report.WriteRun(dir); err != nil {
					return err
				}
				fmt.Println("wrote", filepath.Join(dir, "report.html"))
			}
			return nil
		},
	}
}
