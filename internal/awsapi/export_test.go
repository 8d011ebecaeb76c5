package awsapi

import (
	"time"

	"golang.org/x/time/rate"
)

// FastPolls makes s wait a millisecond, doubling up to four, between polls,
// so that tests of the polling loop take milliseconds.
func FastPolls(s *ReportSource) *ReportSource {
	s.pollInterval, s.pollMaxInterval = time.Millisecond, 4*time.Millisecond
	return s
}

// SetKeyIDRate replaces the rate limit of s's access key lookups, so that a
// test can first starve them and then let the rest through.
func SetKeyIDRate(s *ReportSource, perSecond float64) {
	s.limiter = rate.NewLimiter(rate.Limit(perSecond), 1)
}
