package main

import (
	"errors"
	"log/slog"
	"math"
	"os"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// setMemoryLimit sets the Go runtime's soft memory limit to ratio of the
// limit that provider reports (the cgroup's, in main), as Prometheus does
// with the same library and flags. GOMEMLIMIT in the environment wins: the
// runtime has read it, and the library leaves it. A limit is set once, at
// start; a container's limit does not change without a restart.
func setMemoryLimit(ratio float64, provider memlimit.Provider, logger *slog.Logger) {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		logger.Info("GOMEMLIMIT is set in the environment; --auto-gomemlimit leaves it", "GOMEMLIMIT", v)
		return
	}
	limit, err := memlimit.Set(memlimit.WithRatio(ratio), memlimit.WithProvider(provider))
	switch {
	case errors.Is(err, memlimit.ErrCgroupsNotSupported), errors.Is(err, memlimit.ErrNoCgroup):
		logger.Debug("no cgroup to read a memory limit from; GOMEMLIMIT not set", "err", err)
	case err != nil:
		logger.Warn("cannot read the cgroup's memory limit; GOMEMLIMIT not set", "err", err)
	case limit == math.MaxInt64:
		logger.Debug("the cgroup has no memory limit; GOMEMLIMIT not set")
	default:
		logger.Info("GOMEMLIMIT set from the cgroup's memory limit", "bytes", limit, "ratio", ratio)
	}
}
