package collector

import "github.com/prometheus/client_golang/prometheus"

// AWSRequests counts the exporter's calls to AWS, one per SDK attempt so that
// retries of throttled or failed calls show up.
type AWSRequests struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
}

var _ prometheus.Collector = (*AWSRequests)(nil)

// NewAWSRequests returns the counters, to be registered and fed by Observe.
func NewAWSRequests() *AWSRequests {
	return &AWSRequests{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: exporter + "_aws_requests_total",
			Help: "Requests sent to AWS APIs by operation, each SDK attempt (retries included) counted once.",
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: exporter + "_aws_request_errors_total",
			Help: "Requests to AWS APIs that failed, by operation and AWS error code (or timeout/network/canceled when AWS sent none), each SDK attempt counted once.",
		}, []string{"operation", "code"}),
	}
}

// Observe records one attempt; code is "" when it succeeded.
func (a *AWSRequests) Observe(operation, code string) {
	a.requests.WithLabelValues(operation).Inc()
	if code != "" {
		a.errors.WithLabelValues(operation, code).Inc()
	}
}

// Describe implements prometheus.Collector.
func (a *AWSRequests) Describe(ch chan<- *prometheus.Desc) {
	a.requests.Describe(ch)
	a.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (a *AWSRequests) Collect(ch chan<- prometheus.Metric) {
	a.requests.Collect(ch)
	a.errors.Collect(ch)
}
