package main

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// TestSetMemoryLimit: --auto-gomemlimit sets the runtime's memory limit to
// the ratio of the provider's (the cgroup's) limit, leaves a GOMEMLIMIT from
// the environment, and sets nothing without a limit. Not parallel: the
// memory limit is the process's, and the test restores it.
func TestSetMemoryLimit(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name     string
		env      string // GOMEMLIMIT in the environment, if not ""
		provider memlimit.Provider
		ratio    float64
		want     int64 // the runtime's limit after
		log      string
	}{
		// 1.5Gi, as the chart's resources.limits.memory may say it.
		{name: "a container's limit", provider: memlimit.Limit(3 * gib / 2), ratio: 0.9,
			want: 1449551462 /* 0.9 x 1,610,612,736 */, log: "GOMEMLIMIT set from the cgroup's memory limit"},
		{name: "the whole limit", provider: memlimit.Limit(2 * gib), ratio: 1, want: 2 * gib, log: "GOMEMLIMIT set"},
		{name: "GOMEMLIMIT in the environment", env: "100MiB", provider: memlimit.Limit(2 * gib), ratio: 0.9,
			want: math.MaxInt64, log: "GOMEMLIMIT is set in the environment"},
		{name: "no limit", provider: func() (uint64, error) { return 0, memlimit.ErrNoLimit }, ratio: 0.9,
			want: math.MaxInt64, log: "the cgroup has no memory limit"},
		{name: "no cgroups", provider: func() (uint64, error) { return 0, memlimit.ErrCgroupsNotSupported }, ratio: 0.9,
			want: math.MaxInt64, log: "no cgroup to read a memory limit from"},
		{name: "unreadable", provider: func() (uint64, error) { return 0, errors.New("permission denied") }, ratio: 0.9,
			want: math.MaxInt64, log: "cannot read the cgroup's memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			previous := debug.SetMemoryLimit(math.MaxInt64)
			t.Cleanup(func() { debug.SetMemoryLimit(previous) })
			if tc.env != "" {
				t.Setenv("GOMEMLIMIT", tc.env)
			}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			setMemoryLimit(tc.ratio, tc.provider, logger)
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("memory limit %d, want %d", got, tc.want)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("logged %q, want %q", logs.String(), tc.log)
			}
		})
	}
}
