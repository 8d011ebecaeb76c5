package awsapi

import (
	"log/slog"

	"golang.org/x/time/rate"
)

// NewTestSource is NewReportSource reading through client, a unit test's
// stand-in for the IAM client.
func NewTestSource(client iamClient, accountID string, opts SourceOptions, logger *slog.Logger) *ReportSource {
	return newReportSource(client, accountID, opts, logger)
}

// SetKeyIDRate replaces the rate limit of s's access key lookups, so that a
// test can first starve them and then let the rest through.
func SetKeyIDRate(s *ReportSource, perSecond float64) {
	s.limiter = rate.NewLimiter(rate.Limit(perSecond), 1)
}
