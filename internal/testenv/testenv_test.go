package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"testing"
	"time"
)

// TestMain doubles as the child process that StartProcess is tested on,
// when TESTENV_CHILD says how the child treats SIGINT.
func TestMain(m *testing.M) {
	switch os.Getenv("TESTENV_CHILD") {
	case "":
		os.Exit(m.Run())
	case "graceful":
		interrupt := make(chan os.Signal, 1)
		signal.Notify(interrupt, os.Interrupt)
		fmt.Println("started")
		<-interrupt
		fmt.Println("stopping on SIGINT")
	case "stubborn":
		signal.Ignore(os.Interrupt)
		fmt.Println("started")
		time.Sleep(time.Hour)
	}
}

func child(t testing.TB, mode string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(), "TESTENV_CHILD="+mode)
	return cmd
}

func waitStarted(t testing.TB, logs *Buffer) {
	t.Helper()
	WaitFor(t, Patience, func() error {
		if !strings.Contains(logs.String(), "started") {
			return errors.New("child has not started")
		}
		return nil
	})
}

// A process that ignores SIGINT is killed after the grace; without
// mustStop that is no failure.
func TestStartProcessKillsAfterGrace(t *testing.T) {
	const grace = 200 * time.Millisecond
	var stopping time.Time
	if !t.Run("child", func(t *testing.T) {
		waitStarted(t, StartProcess(t, "child", child(t, "stubborn"), grace, false))
		stopping = time.Now()
	}) {
		t.Fatal("a child killed without mustStop failed the test")
	}
	if took := time.Since(stopping); took < grace {
		t.Errorf("child stopped %v after the test ended, want the kill to wait the grace %v", took, grace)
	}
}

// With mustStop, a process that needs the kill fails the test, whose log
// then has the process's output.
func TestStartProcessMustStop(t *testing.T) {
	if os.Getenv("TESTENV_INNER") == "1" {
		waitStarted(t, StartProcess(t, "child", child(t, "stubborn"), 200*time.Millisecond, true))
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_INNER=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a child that needed the kill passed the test:\n%s", out)
	}
	for _, want := range []string{"child did not stop within 200ms of SIGINT", "signal: killed", "child logs:", "started"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("inner test output lacks %q:\n%s", want, out)
		}
	}
}

// Start lets a test signal the process and read its exit status, and its
// cleanup still waits for the process.
func TestStartWaitsForExit(t *testing.T) {
	p := Start(t, "child", child(t, "graceful"), time.Minute, true)
	waitStarted(t, p.Logs)
	if p.Exited() {
		t.Fatal("child exited before its signal")
	}
	p.Signal(t, os.Interrupt)
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if !p.Exited() || !strings.Contains(p.Logs.String(), "stopping on SIGINT") {
		t.Errorf("child output %q: want it to have stopped on SIGINT", p.Logs.String())
	}
}
