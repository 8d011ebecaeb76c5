package awsapi

import "time"

// FastPolls makes s wait a millisecond, doubling up to four, between polls,
// so that tests of the polling loop take milliseconds.
func FastPolls(s *ReportSource) *ReportSource {
	s.pollInterval, s.pollMaxInterval = time.Millisecond, 4*time.Millisecond
	return s
}
