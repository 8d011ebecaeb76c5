package fakeaws

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CloudTrail's LookupEvents speaks the JSON 1.1 protocol: the action is in
// the X-Amz-Target header (the AWS CLI and botocore send
// com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents, the
// Go SDK CloudTrail_20131101.LookupEvents: CloudTrail takes both), times are epoch seconds, and each event carries
// its whole record as a JSON string (CloudTrailEvent). Event history is
// regional: the region is the one the request was signed for.

// LookupEvents is the CloudTrail action the fake answers.
const LookupEvents = "LookupEvents"

const (
	cloudTrailTargetPrefix      = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
	cloudTrailShortTargetPrefix = "CloudTrail_20131101."
)

// isCloudTrailTarget reports whether an X-Amz-Target is CloudTrail's.
func isCloudTrailTarget(target string) bool {
	return strings.HasPrefix(target, cloudTrailTargetPrefix) || strings.HasPrefix(target, cloudTrailShortTargetPrefix)
}

// TrailEvent is one management event in an account's event history.
type TrailEvent struct {
	ID   string // "" gets a generated one
	Time time.Time
	// Region is where the event is recorded; "" is us-east-1.
	Region      string
	AccessKeyID string
	EventName   string // "" is GetCallerIdentity
	EventSource string // "" is sts.amazonaws.com
	SourceIP    string
	UserAgent   string
	// VPCEndpointID is set when the call came through a VPC endpoint.
	VPCEndpointID string
	// RecordAccessKeyID, when not "", is the record's
	// userIdentity.accessKeyId instead of AccessKeyID: an event that
	// contradicts the request, for tests of a broken endpoint.
	RecordAccessKeyID string
}

// TrailPaging is how LookupEvents pages misbehave.
type TrailPaging int

const (
	// TrailPagingNormal pages as CloudTrail does.
	TrailPagingNormal TrailPaging = iota
	// TrailPagingLoop answers every page with the same NextToken, even the
	// last one.
	TrailPagingLoop
	// TrailPagingBadToken answers a NextToken that the next call refuses
	// (InvalidNextTokenException).
	TrailPagingBadToken
)

// TrailCall is one LookupEvents request the fake received.
type TrailCall struct {
	Account, Region, AccessKeyID string
	At                           time.Time
}

// trail is the event history of a Server (Server.cloudTrail).
type trail struct {
	mu     sync.Mutex
	events map[string][]TrailEvent // by account
	faults map[string][]string     // by account+"/"+region: error codes, one per call
	paging TrailPaging
	calls  []TrailCall
	// foreign, when set, is added to every answer: an event of another key.
	foreign *TrailEvent
	seq     int
}

// AddTrailEvents adds events to the event history of the account.
func (a *Account) AddTrailEvents(events ...TrailEvent) {
	t := a.s.cloudTrail
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range events {
		if e.ID == "" {
			t.seq++
			e.ID = fmt.Sprintf("fa4e7a11-0000-4000-8000-%012x", t.seq)
		}
		if e.Region == "" {
			e.Region = "us-east-1"
		}
		t.events[a.id] = append(t.events[a.id], e)
	}
}

// FailLookupEvents makes the account's next n LookupEvents calls in region
// answer the error code: ThrottlingException, AccessDeniedException,
// InvalidNextTokenException or any other (a 400); n < 0 is every call.
func (a *Account) FailLookupEvents(region, code string, n int) {
	t := a.s.cloudTrail
	t.mu.Lock()
	defer t.mu.Unlock()
	k := a.id + "/" + region
	if n < 0 {
		n = 1 << 20
	}
	for range n {
		t.faults[k] = append(t.faults[k], code)
	}
}

// SetTrailPaging sets how LookupEvents pages.
func (s *Server) SetTrailPaging(p TrailPaging) {
	t := s.cloudTrail
	t.mu.Lock()
	defer t.mu.Unlock()
	t.paging = p
}

// AddForeignTrailEvent adds e to every LookupEvents answer, whatever key
// was asked: an endpoint that contradicts the request.
func (s *Server) AddForeignTrailEvent(e TrailEvent) {
	t := s.cloudTrail
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Region == "" {
		e.Region = "us-east-1"
	}
	if e.ID == "" {
		e.ID = "fa4e7a11-f0e1-4000-8000-000000000000"
	}
	t.foreign = &e
}

// TrailCalls returns the LookupEvents requests received, in order.
func (s *Server) TrailCalls() []TrailCall {
	t := s.cloudTrail
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls)
}

// TrailEnviron points the SDK's default chain's CloudTrail client at the
// fake (see Environ).
func (s *Server) TrailEnviron() []string {
	return []string{"AWS_ENDPOINT_URL_CLOUDTRAIL=" + s.URL()}
}

// regionRE finds the region of a SigV4 credential scope:
// Credential=AKID/20240501/eu-west-1/cloudtrail/aws4_request.
var regionRE = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([^/,\s]+)/`)

// maxTrailPage is CloudTrail's largest MaxResults.
const maxTrailPage = 50

// serveCloudTrail answers a CloudTrail call.
func (s *Server) serveCloudTrail(w http.ResponseWriter, r *http.Request, target string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	action := strings.TrimPrefix(strings.TrimPrefix(target, cloudTrailTargetPrefix), cloudTrailShortTargetPrefix)

	s.mu.Lock()
	requestID := s.nextRequestIDLocked()
	var caller identity
	signed := false
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		caller = s.identityLocked(m[1])
		signed = true
	}
	s.total++
	s.requests[RequestKey{Account: caller.account, Action: action}]++
	s.mu.Unlock()

	switch {
	case err != nil:
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "SerializationException"}, requestID)
		return
	case action != LookupEvents:
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "UnknownOperationException"}, requestID)
		return
	case !signed:
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "MissingAuthenticationTokenException", message: "Missing Authentication Token"}, requestID)
		return
	}
	region := "us-east-1"
	if m := regionRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		region = m[1]
	}
	var in struct {
		LookupAttributes []struct{ AttributeKey, AttributeValue string }
		StartTime        *float64
		EndTime          *float64
		MaxResults       *int
		NextToken        string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "SerializationException"}, requestID)
		return
	}
	keyID := ""
	if len(in.LookupAttributes) > 1 {
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "InvalidLookupAttributesException", message: "You cannot specify more than one lookup attribute."}, requestID)
		return
	}
	if len(in.LookupAttributes) == 1 {
		if in.LookupAttributes[0].AttributeKey != "AccessKeyId" {
			writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "InvalidLookupAttributesException", message: "The fake looks events up by AccessKeyId only."}, requestID)
			return
		}
		keyID = in.LookupAttributes[0].AttributeValue
	}
	size := maxTrailPage
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxTrailPage {
			writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "InvalidMaxResultsException", message: "MaxResults must be from 1 to 50."}, requestID)
			return
		}
		size = *in.MaxResults
	}

	t := s.cloudTrail
	t.mu.Lock()
	t.calls = append(t.calls, TrailCall{Account: caller.account, Region: region, AccessKeyID: keyID, At: time.Now()})
	fk := caller.account + "/" + region
	var fault string
	if q := t.faults[fk]; len(q) > 0 {
		fault, t.faults[fk] = q[0], q[1:]
	}
	var matched []TrailEvent
	for _, e := range t.events[caller.account] {
		if e.Region != region || keyID != "" && e.AccessKeyID != keyID {
			continue
		}
		sec := float64(e.Time.Unix())
		if in.StartTime != nil && sec < *in.StartTime || in.EndTime != nil && sec > *in.EndTime {
			continue
		}
		matched = append(matched, e)
	}
	paging, foreign := t.paging, t.foreign
	t.mu.Unlock()

	switch fault {
	case "":
	case "ThrottlingException":
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: fault, message: "Rate exceeded"}, requestID)
		return
	case "AccessDeniedException":
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: fault,
			message: fmt.Sprintf("User: %s is not authorized to perform: cloudtrail:LookupEvents because no identity-based policy allows the cloudtrail:LookupEvents action", caller.arn)}, requestID)
		return
	default:
		writeJSONError(w, jsonError{status: http.StatusBadRequest, code: fault}, requestID)
		return
	}

	// Newest first, as CloudTrail answers.
	slices.SortStableFunc(matched, func(a, b TrailEvent) int { return b.Time.Compare(a.Time) })
	offset := 0
	if in.NextToken != "" {
		o, ok := strings.CutPrefix(in.NextToken, "fake-ct-")
		n, err := strconv.Atoi(o)
		if paging == TrailPagingLoop && in.NextToken == "fake-ct-loop" {
			n, ok, err = 0, true, nil
		}
		if !ok || err != nil || n < 0 || paging == TrailPagingBadToken {
			writeJSONError(w, jsonError{status: http.StatusBadRequest, code: "InvalidNextTokenException", message: "Invalid NextToken"}, requestID)
			return
		}
		offset = n
	}
	end := min(offset+size, len(matched))
	page := matched[min(offset, end):end]
	if foreign != nil && foreign.Region == region {
		page = append(slices.Clone(page), *foreign)
	}
	type event struct {
		EventId, EventName, ReadOnly, AccessKeyId string
		EventTime                                 float64
		EventSource, Username                     string
		Resources                                 []struct{}
		CloudTrailEvent                           string
	}
	var out struct {
		Events    []event
		NextToken string `json:",omitempty"`
	}
	out.Events = []event{}
	for _, e := range page {
		out.Events = append(out.Events, event{
			EventId: e.ID, EventName: cmp.Or(e.EventName, "GetCallerIdentity"), ReadOnly: "true", AccessKeyId: e.AccessKeyID,
			EventTime: float64(e.Time.Unix()), EventSource: cmp.Or(e.EventSource, "sts.amazonaws.com"), Username: "fake-user",
			Resources: []struct{}{}, CloudTrailEvent: record(caller.account, e),
		})
	}
	switch {
	case paging == TrailPagingLoop:
		out.NextToken = "fake-ct-loop"
	case end < len(matched):
		out.NextToken = "fake-ct-" + strconv.Itoa(end)
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// record is the event's CloudTrailEvent: the whole record, as a string.
func record(account string, e TrailEvent) string {
	keyID := cmp.Or(e.RecordAccessKeyID, e.AccessKeyID)
	rec := map[string]any{
		"eventVersion": "1.09",
		"userIdentity": map[string]any{
			"type": "IAMUser", "principalId": "AIDAFAKE", "arn": "arn:aws:iam::" + account + ":user/fake-user",
			"accountId": account, "accessKeyId": keyID, "userName": "fake-user",
		},
		"eventTime":          e.Time.UTC().Format(time.RFC3339),
		"eventSource":        cmp.Or(e.EventSource, "sts.amazonaws.com"),
		"eventName":          cmp.Or(e.EventName, "GetCallerIdentity"),
		"awsRegion":          e.Region,
		"sourceIPAddress":    e.SourceIP,
		"userAgent":          e.UserAgent,
		"requestParameters":  nil,
		"responseElements":   nil,
		"requestID":          "fa4e0000-0000-4000-8000-000000000000",
		"eventID":            e.ID,
		"readOnly":           true,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": account,
		"eventCategory":      "Management",
	}
	if e.VPCEndpointID != "" {
		rec["vpcEndpointId"] = e.VPCEndpointID
	}
	b, _ := json.Marshal(rec)
	return string(b)
}
