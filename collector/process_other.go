//go:build !linux

package collector

import (
	"github.com/prometheus/client_golang/prometheus"
	clientcollectors "github.com/prometheus/client_golang/prometheus/collectors"
)

// NewProcessCollector returns client_golang's process collector: the
// cheaper one of process_linux.go reads Linux's /proc.
func NewProcessCollector() prometheus.Collector {
	return clientcollectors.NewProcessCollector(clientcollectors.ProcessCollectorOpts{})
}
