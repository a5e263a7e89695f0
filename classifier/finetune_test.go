package classifier_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ganshift/biggan"
	"ganshift/classifier"
	"ganshift/finetune"
	"ganshift/nn"
	"ganshift/torch"
)

// snapshot copies every tensor of p to Go memory.
func snapshot(t testing.TB, p *nn.Params) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, v := range p.Vars() {
		data, err := v.T.Float32()
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		out[v.Name] = data
	}
	return out
}

// changed lists the tensors whose values differ between a and b.
func changed(a, b map[string][]float32) []string {
	var out []string
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestFinetuneWithResNet runs three fine-tuning iterations of the width-8
// 128×128 BigGAN fixture against the ResNet-18-layout classifier fixture
// (resized 128 → 64 px, ImageNet-normalised): only G may change, and every
// metric must be finite.
func TestFinetuneWithResNet(t *testing.T) {
	parity := filepath.Join("..", "biggan", "testdata", "parity")
	g, err := biggan.LoadG(filepath.Join(parity, "G.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Free()
	d, err := biggan.LoadD(filepath.Join(parity, "D.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Free()
	c, err := classifier.LoadPth(filepath.Join("testdata", "parity", "resnet18_w8.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	c.Cfg.Size, c.Cfg.Target = 64, 3

	nets := finetune.Nets{G: g, D: d, C: c}
	before := map[string]map[string][]float32{"G": snapshot(t, g.Params), "D": snapshot(t, d.Params), "C": snapshot(t, c.Params)}
	opt := finetune.Defaults()
	opt.Iters, opt.Batch, opt.SnapshotEvery = 3, 3, 3
	opt.LR = 1e-3
	opt.SheetCols, opt.SheetRows = 2, 2
	dir := filepath.Join(t.TempDir(), "run")
	r, err := finetune.Start(dir, finetune.RunConfig{Options: opt, Model: "parity", Generator: "G", Classifier: "resnet18_w8.pth"}, nets)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Train("test", nil); err != nil {
		t.Fatal(err)
	}

	ms := r.Metrics()
	if len(ms) != 3 {
		t.Fatalf("%d metrics rows, want 3", len(ms))
	}
	for _, m := range ms {
		for name, v := range map[string]float64{"loss": m.Loss, "cls_loss": m.ClsLoss, "d_loss": m.DLoss, "target_prob": m.TargetProb, "d_score": m.DScore} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("iteration %d: %s = %v", m.Iter, name, v)
			}
		}
		if m.TargetProb <= 0 || m.TargetProb >= 1 {
			t.Errorf("iteration %d: target probability %v outside (0, 1)", m.Iter, m.TargetProb)
		}
	}
	after := map[string]map[string][]float32{"G": snapshot(t, g.Params), "D": snapshot(t, d.Params), "C": snapshot(t, c.Params)}
	if ch := changed(before["G"], after["G"]); len(ch) == 0 {
		t.Error("G did not change")
	}
	for _, net := range []string{"D", "C"} {
		if ch := changed(before[net], after[net]); len(ch) > 0 {
			t.Errorf("%s changed: %d tensors, first %s", net, len(ch), ch[0])
		}
	}
	for _, f := range []string{"config.json", "metrics.csv", "snapshots/000003/G.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// BenchmarkFinetuneStepFull measures one fine-tuning iteration at full
// scale: the released 128×128 BigGAN architecture (G and D width 96,
// random weights), a random-weight ResNet-50 classifier at 224×224 (G's
// output resized 128 → 224), batch 9. It reports the process's peak
// resident memory (VmHWM) and the memory held before the first step.
// Run it alone, once, so that VmHWM is its own:
//
//	go test ./classifier/ -run '^$' -bench FinetuneStepFull -benchtime 1x
func BenchmarkFinetuneStepFull(b *testing.B) {
	start := time.Now()
	g, err := biggan.NewGenerator(biggan.Released(), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Free()
	d, err := biggan.NewDiscriminator(biggan.Released(), 2)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Free()
	c, err := classifier.New(classifier.Config{Arch: "resnet50", Size: 224, Classes: 2, Target: 1}, 3)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Free()
	nets := finetune.Nets{G: g, D: d, C: c}
	vars, err := finetune.Prepare(nets, nil)
	if err != nil {
		b.Fatal(err)
	}
	ts := make([]*torch.Tensor, len(vars))
	for i, v := range vars {
		ts[i] = v.T
	}
	opt := finetune.Defaults()
	adam, err := torch.NewAdam(ts, opt.LR, opt.Beta1, opt.Beta2, opt.AdamEps)
	if err != nil {
		b.Fatal(err)
	}
	defer adam.Free()
	rss := procStatusMB(b, "VmRSS")
	b.Logf("built G, D and ResNet-50 in %v; %d threads; resident %d MB", time.Since(start).Round(time.Millisecond), torch.Threads(), rss)
	rng := rand.New(rand.NewPCG(1, 1))
	cpu0 := cpuSeconds(b)
	b.ResetTimer()
	for range b.N {
		m, err := finetune.Step(nets, adam, rng, opt)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("loss %.4g, p(target) %.3g", m.Loss, m.TargetProb)
	}
	b.StopTimer()
	// CPU time tells how much of the wall time was this step's when
	// other processes share the cores.
	b.ReportMetric((cpuSeconds(b)-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(procStatusMB(b, "VmHWM")), "peak-RSS-MB")
	b.ReportMetric(float64(rss), "RSS-before-MB")
}

// cpuSeconds is the user and system CPU time of the process so far.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// procStatusMB reads a memory field of /proc/self/status in MB.
func procStatusMB(b *testing.B, field string) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				b.Fatalf("%s: %v", line, err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
