package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ganshift/finetune"
)

// process is the test binary running as the ganshift command.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{} // closed when the process has exited
	err            error         // cmd.Wait's, once done is closed
}

// startGanshift starts ganshift args in a process of its own. The test's
// cleanup kills it if it is still running.
func startGanshift(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), asCommandEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit, at most timeout.
func (p *process) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%v still running after %v", p.cmd.Args[1:], timeout)
	}
}

// lastSnapshot is the newest complete snapshot of run, or -1.
func lastSnapshot(run string) int {
	its, err := finetune.Snapshots(run)
	if err != nil || len(its) == 0 {
		return -1
	}
	return its[len(its)-1]
}

// signalAt waits until run has the snapshot of iteration it, then for
// half the time the run took from the snapshot before (every iterations
// earlier) to that one, so that the run is inside its next interval, and
// sends sig to p. It returns the newest snapshot just before and just
// after sending.
func signalAt(p *process, run string, it, every int, sig os.Signal, timeout time.Duration) (before, after int, err error) {
	deadline := time.Now().Add(timeout)
	var seen [2]time.Time
	for i, want := range []int{it - every, it} {
		for {
			if _, err := os.Stat(finetune.SnapshotDir(run, want)); err == nil {
				seen[i] = time.Now()
				break
			}
			select {
			case <-p.done:
				return 0, 0, fmt.Errorf("process ended (%v) before snapshot %d\n%s", p.err, want, p.stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				return 0, 0, fmt.Errorf("no snapshot %d after %v", want, timeout)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	time.Sleep(seen[1].Sub(seen[0]) / 2)
	before = lastSnapshot(run)
	if err := p.cmd.Process.Signal(sig); err != nil {
		return 0, 0, err
	}
	return before, lastSnapshot(run), nil
}

// interruption is one run stopped by a signal and resumed.
type interruption struct {
	run           string
	before, after int    // newest snapshot just before and just after the signal
	stopped       int    // newest snapshot once the process had exited
	stopErr       error  // the stopped process's exit
	stopStderr    string // what it printed on stderr
	resumeStderr  string
	tmpLeft       []string // snapshot directories being written when it stopped
	err           error    // a failure of the test machinery
}

// TestStopAndResume kills one run (SIGKILL) and interrupts another
// (SIGINT, as Ctrl-C does) once each has its snapshot 10, resumes both with
// finetune --resume, and compares them with the same run made in one go.
// All three are real processes.
func TestStopAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs finetune processes")
	}
	f := fixtures(t)
	tmp := t.TempDir()
	const iters, every, signalAfter = 40, 5, 10
	// One thread each: the runs go on side by side, and a run resumed
	// with another thread count may differ in the last bits.
	flags := func(out string) []string {
		return []string{"--threads", "1", "finetune", "--model", f.model, "--classifier", f.cls,
			"--iters", fmt.Sprint(iters), "--snapshot-every", fmt.Sprint(every), "--batch", "3",
			"--seed", "12", "--lr", "0.01", "--out", out}
	}
	const timeout = 90 * time.Second
	start := time.Now()
	whole := filepath.Join(tmp, "whole")
	ref := startGanshift(t, append([]string{"-q"}, flags(whole)...)...)

	stopAndResume := func(name string, sig os.Signal) *interruption {
		in := &interruption{run: filepath.Join(tmp, name)}
		p := startGanshift(t, flags(in.run)...)
		if in.before, in.after, in.err = signalAt(p, in.run, signalAfter, every, sig, timeout); in.err != nil {
			return in
		}
		if err := p.wait(timeout); err != nil && !errors.As(err, new(*exec.ExitError)) {
			in.err = err
			return in
		}
		in.stopErr, in.stopStderr = p.err, p.stderr.String()
		in.stopped = lastSnapshot(in.run)
		in.tmpLeft, _ = filepath.Glob(filepath.Join(in.run, "snapshots", "*.tmp"))
		r := startGanshift(t, "--threads", "1", "finetune", "--resume", in.run)
		if err := r.wait(timeout); err != nil {
			in.err = fmt.Errorf("finetune --resume %s: %v\n%s", in.run, err, r.stderr.String())
		}
		in.resumeStderr = r.stderr.String()
		return in
	}
	results := make(chan *interruption, 2)
	go func() { results <- stopAndResume("killed", syscall.SIGKILL) }()
	go func() { results <- stopAndResume("interrupted", os.Interrupt) }()
	ins := map[string]*interruption{}
	for range 2 {
		in := <-results
		ins[filepath.Base(in.run)] = in
	}
	if err := ref.wait(timeout); err != nil {
		t.Fatalf("the uninterrupted run: %v\n%s", err, ref.stderr.String())
	}
	t.Logf("three runs of %d iterations, two stopped and resumed, in %v", iters, time.Since(start).Round(time.Millisecond))
	for _, in := range ins {
		if in.err != nil {
			t.Fatalf("%s: %v", in.run, in.err)
		}
		t.Logf("%s: newest snapshot %d before the signal, %d after it, %d once stopped", filepath.Base(in.run), in.before, in.after, in.stopped)
	}

	if ms, err := finetune.ParseMetrics(string(readFile(t, filepath.Join(whole, "metrics.csv")))); err != nil || len(ms) != iters {
		t.Fatalf("the uninterrupted run's metrics.csv: %d rows (want %d), %v", len(ms), iters, err)
	}

	// sameAsWhole compares what the resumed run ended with.
	sameAsWhole := func(t *testing.T, run string) {
		t.Helper()
		final := finetune.SnapshotDir("", iters)
		for _, name := range []string{"metrics.csv", filepath.Join(final, "G.safetensors"), filepath.Join(final, "optimizer.safetensors"), filepath.Join(final, "samples.png")} {
			if !bytes.Equal(readFile(t, filepath.Join(whole, name)), readFile(t, filepath.Join(run, name))) {
				t.Errorf("%s of the resumed run differs from the uninterrupted run's", name)
			}
		}
		its, err := finetune.Snapshots(run)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := finetune.Snapshots(whole)
		if fmt.Sprint(its) != fmt.Sprint(want) {
			t.Errorf("snapshots %v, want %v", its, want)
		}
		if left, _ := filepath.Glob(filepath.Join(run, "snapshots", "*.tmp")); len(left) > 0 {
			t.Errorf("unfinished snapshots left after the resumed run ended: %v", left)
		}
	}
	// resumedFrom checks that the resumed run started at the snapshot the
	// stopped one left last.
	resumedFrom := func(t *testing.T, in *interruption) {
		t.Helper()
		want := fmt.Sprintf("resuming %s at iteration %d of %d", in.run, in.stopped, iters)
		if !strings.Contains(in.resumeStderr, want) {
			t.Errorf("the resumed run's stderr does not say %q:\n%s", want, in.resumeStderr)
		}
	}

	t.Run("SIGKILL", func(t *testing.T) {
		in := ins["killed"]
		var exit *exec.ExitError
		if !errors.As(in.stopErr, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the run ended with %v, not killed by SIGKILL (increase its iterations?)", in.stopErr)
		}
		// At most one snapshot interval lost: the newest complete snapshot
		// after the kill is at least the one seen before it.
		if in.stopped < in.before || in.stopped >= iters || in.stopped%every != 0 {
			t.Errorf("newest snapshot after the kill %d; %d was there before it, the run has %d iterations", in.stopped, in.before, iters)
		}
		resumedFrom(t, in)
		sameAsWhole(t, in.run)
	})

	t.Run("SIGINT", func(t *testing.T) {
		in := ins["interrupted"]
		if in.stopErr != nil {
			t.Fatalf("the interrupted run exited with %v, want status 0\n%s", in.stopErr, in.stopStderr)
		}
		// It stops at the first snapshot due after the signal: the one of
		// the iteration it was in (at least the newest before the signal),
		// and no later than the one after the newest seen after it.
		if in.stopped < in.before || in.stopped > in.after+every || in.stopped >= iters {
			t.Errorf("stopped at snapshot %d; newest before the signal %d, after %d; %d iterations", in.stopped, in.before, in.after, iters)
		}
		if want := fmt.Sprintf("stopped at iteration %d; continue with --resume %s", in.stopped, in.run); !strings.Contains(in.stopStderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, in.stopStderr)
		}
		if len(in.tmpLeft) > 0 {
			t.Errorf("a clean stop left unfinished snapshots %v", in.tmpLeft)
		}
		resumedFrom(t, in)
		sameAsWhole(t, in.run)
	})
}
