// Package fakeaws is a fault-injecting stand-in for AWS where moto_server,
// the third-party emulator that the tests also run, cannot serve: an
// in-process HTTP server that speaks the IAM and STS Query protocol and
// Organizations' JSON 1.1 ListAccounts, for the calls the exporter makes,
// with the status codes, error codes and bodies of the real services. Tests
// and benchmarks drive it through the real aws-sdk-go-v2 clients, or point
// the exporter's binary at it.
//
// What it has that moto has not: credential reports of any content and
// age, a report that takes polls to build or never ends building, injected
// errors (throttling, server failures, denials, the report errors), latency
// and hangs, bodies that are not XML or larger than any limit, roles that
// cannot be assumed, a hook on each ListAccounts page, and a request log
// that counts calls per account and action. Where both serve a call, they
// answer alike: fakeaws_test.go compares them.
//
// It holds many accounts. The access key ID in a request's SigV4
// Authorization header decides which account the request acts in: keys
// issued by AssumeRole act in the role's account, any other key in the
// default account. Signatures are not verified. All methods are safe for
// concurrent use.
package fakeaws

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Action names the fake answers.
const (
	GenerateCredentialReport       = "GenerateCredentialReport"
	GetCredentialReport            = "GetCredentialReport"
	ListAccountAliases             = "ListAccountAliases"
	GetAccountAuthorizationDetails = "GetAccountAuthorizationDetails"
	ListAccessKeys                 = "ListAccessKeys"
	GetCallerIdentity              = "GetCallerIdentity"
	AssumeRole                     = "AssumeRole"
)

// Credentials of the default account's caller. Any access key ID that
// AssumeRole did not issue acts in the default account.
const (
	DefaultAccessKeyID     = "AKIAFAKEDEFAULT00000"
	DefaultSecretAccessKey = "fake-secret-access-key"
)

// ReportTTL is how long a generated report stays current. IAM builds a new
// report at most once every 4 hours and calls an older one expired.
const ReportTTL = 4 * time.Hour

const (
	iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

	// maxRequestBytes bounds a request body; the calls the fake serves are
	// a few hundred bytes.
	maxRequestBytes = 1 << 20
)

// service is the API an action belongs to.
type service struct {
	namespace string
}

var (
	iamService = service{namespace: iamNamespace}
	stsService = service{namespace: stsNamespace}
)

var actionServices = map[string]service{
	GenerateCredentialReport:       iamService,
	GetCredentialReport:            iamService,
	ListAccountAliases:             iamService,
	GetAccountAuthorizationDetails: iamService,
	ListAccessKeys:                 iamService,
	GetCallerIdentity:              stsService,
	AssumeRole:                     stsService,
}

// RequestKey identifies a line of the request log.
type RequestKey struct {
	// Account is the account the request acted in, "" when it was not
	// signed.
	Account string
	Action  string
}

// identity is who a set of credentials belongs to.
type identity struct {
	account string
	arn     string
	userID  string
}

// Server is a running fake endpoint. Create it with New and stop it with
// Close.
type Server struct {
	srv       *httptest.Server
	pipes     *pipeListener // of NewInMemory; nil on a socket
	closed    chan struct{}
	closeOnce sync.Once

	mu             sync.Mutex
	defaultAccount string
	accounts       map[string]*Account
	keys           map[string]identity
	issued         int
	requestSeq     uint64
	requests       map[RequestKey]int
	total          int
	org            *organization
	orgHook        func(ctx context.Context, page int)
	// cloudTrail has its own lock: see cloudtrail.go.
	cloudTrail *trail
}

// New starts a fake endpoint whose default account is defaultAccountID.
func New(defaultAccountID string) *Server {
	s := newFake(defaultAccountID)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// NewInMemory is New serving over in-memory connections (net.Pipe) instead
// of a loopback socket, for tests in a testing/synctest bubble: created in
// the bubble, the server, its latency knob and the client's deadlines all
// run on the bubble's clock, which moves only when every goroutine waits.
// Clients reach it through HTTPClient; Config's client already does.
func NewInMemory(defaultAccountID string) *Server {
	s := newFake(defaultAccountID)
	s.pipes = &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.srv.Listener.Close() // the loopback listener it opened, unused
	s.srv.Listener = s.pipes
	s.srv.Start()
	return s
}

func newFake(defaultAccountID string) *Server {
	s := &Server{
		closed:         make(chan struct{}),
		defaultAccount: defaultAccountID,
		accounts:       make(map[string]*Account),
		keys:           make(map[string]identity),
		requests:       make(map[RequestKey]int),
		cloudTrail:     &trail{events: map[string][]TrailEvent{}, faults: map[string][]string{}},
	}
	s.accountLocked(defaultAccountID)
	return s
}

// pipeListener hands the server ends of net.Pipe connections to Accept. A
// closed listener refuses to dial, as a closed port does.
type pipeListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: "pipe", Addr: l.Addr(), Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr names the fake in URL; the host is never resolved.
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "fakeaws.invalid:80" }

// URL is the endpoint's base URL, for BaseEndpoint or AWS_ENDPOINT_URL_*.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server. Requests in flight, including ones delayed by a
// latency knob, are cut off; later requests fail to connect. Close may be
// called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		// Without cutting the open connections first, Close would wait for
		// every request in flight.
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// Config returns an aws.Config that sends every service to the fake with the
// default account's static credentials, region us-east-1, a retryer that
// does not sleep between attempts (so throttling tests stay fast) and has no
// retry quota, and an HTTP client that keeps request counts exact (see
// plainBodyClient).
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(DefaultAccessKeyID, DefaultSecretAccessKey, ""),
		Retryer:      NoDelayRetryer,
		HTTPClient:   plainBodyClient{next: s.HTTPClient()},
	}
}

// HTTPClient is the SDK's HTTP client, set to reach a server made by
// NewInMemory; for a server on a socket it is the SDK's default.
func (s *Server) HTTPClient() *awshttp.BuildableClient {
	c := awshttp.NewBuildableClient()
	if s.pipes != nil {
		c = c.WithTransportOptions(func(tr *http.Transport) {
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return s.pipes.dial(ctx) }
		})
	}
	return c
}

// plainBodyClient hands request bodies to net/http without their WriteTo
// method. The SDK closes a request body as soon as Do returns, while net/http
// may still read it past Content-Length to check for extra bytes; through
// the SDK body's WriteTo that read fails with io.EOF and net/http closes the
// connection under the response. On loopback that race is frequent, and the
// SDK's silent retry would add requests to the log. awsapi.WrapHTTPClient
// does the same for the exporter.
type plainBodyClient struct{ next aws.HTTPClient }

func (c plainBodyClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req = req.WithContext(req.Context())
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return c.next.Do(req)
}

// NoDelayRetryer is the SDK's standard retryer (3 attempts, same retryable
// errors) without backoff delays or a retry quota.
func NoDelayRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None
	})
}

// Environ returns the environment ("KEY=value") that points the SDK's default
// configuration chain at the fake with the default account's credentials.
func (s *Server) Environ() []string {
	return []string{
		"AWS_ENDPOINT_URL_IAM=" + s.URL(),
		"AWS_ENDPOINT_URL_STS=" + s.URL(),
		"AWS_ENDPOINT_URL_ORGANIZATIONS=" + s.URL(),
		"AWS_ACCESS_KEY_ID=" + DefaultAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + DefaultSecretAccessKey,
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// DefaultAccount returns the account of callers that did not assume a role.
func (s *Server) DefaultAccount() *Account {
	return s.Account(s.defaultAccount)
}

// Account returns the account with this ID, creating it when it is new. A
// new account has no report yet; only accounts created here (or the default
// one) can be assumed into.
func (s *Server) Account(id string) *Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountLocked(id)
}

func (s *Server) accountLocked(id string) *Account {
	if a, ok := s.accounts[id]; ok {
		return a
	}
	a := &Account{s: s, id: id, inProgressPolls: 1, faults: make(map[string][]*faultRun)}
	a.csv = ReportCSV(id, accountCreated, nil)
	s.accounts[id] = a
	return a
}

// Requests returns how many requests acted in account with action.
func (s *Server) Requests(account, action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[RequestKey{Account: account, Action: action}]
}

// RequestCounts returns a copy of the request log.
func (s *Server) RequestCounts() map[RequestKey]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// TotalRequests returns how many requests reached the server, whatever their
// action or outcome.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.requests)
	s.total = 0
}

// Account is one AWS account of the fake. Its methods are knobs for tests.
type Account struct {
	s  *Server
	id string

	// The fields below are guarded by s.mu.
	csv             []byte
	report          *storedReport
	generating      bool
	pollsLeft       int
	inProgressPolls int
	stuck           bool
	faults          map[string][]*faultRun
	latency         time.Duration
	oversized       int64
	denyAssumeRole  bool
	externalID      string
	// users is sorted as IAM lists users, and replaced whole, never changed
	// in place.
	users []User
}

// storedReport is a finished report with its Content pre-encoded, so that a
// benchmark measures the client rather than the fake's base64.
type storedReport struct {
	content64 string
	generated time.Time
}

// faultRun is an injected failure repeated n more times (forever when n < 0).
type faultRun struct {
	code    string
	garbage bool
	n       int
}

// SetCSV sets the CSV that the account's next report generation produces.
// A new account produces a report with only the root user.
func (a *Account) SetCSV(csv []byte) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.csv = bytes.Clone(csv)
}

// SetReport installs a finished report generated at generated: the steady
// state, where Generate answers COMPLETE and Get answers content until the
// report is ReportTTL old. It also becomes the CSV of later generations and
// ends any generation in progress.
func (a *Account) SetReport(csv []byte, generated time.Time) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.csv = bytes.Clone(csv)
	a.report = &storedReport{content64: base64.StdEncoding.EncodeToString(csv), generated: generated.UTC().Truncate(time.Second)}
	a.generating = false
	a.stuck = false
}

// SetInProgressPolls sets how many Generate calls after the one that
// answered STARTED answer INPROGRESS before one answers COMPLETE (default 1).
func (a *Account) SetInProgressPolls(n int) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.inProgressPolls = max(n, 0)
}

// SetStuck(true) starts a generation if none is running and keeps it in
// progress: Generate answers INPROGRESS and Get ReportInProgress until
// SetStuck(false), after which the generation ends normally.
func (a *Account) SetStuck(stuck bool) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.stuck = stuck
	if stuck && !a.generating {
		a.generating = true
		a.pollsLeft = 0
	}
}

// Fail makes the next n requests of action in this account (the caller's
// account for STS actions) answer the error code, with its real HTTP status
// and message: Throttling (400, "Rate exceeded"), LimitExceeded (409),
// ServiceFailure (500), AccessDenied (403), ReportNotPresent and
// ReportExpired (410), ReportInProgress (404), and any other code as a 400
// Sender error (Organizations' codes: see serveJSON). n < 0 fails every
// later request. Faults queue up in the order they were added.
func (a *Account) Fail(action, code string, n int) {
	a.addFault(action, &faultRun{code: code, n: n})
}

// SendGarbage makes the next n responses to action a 200 with a body that is
// not XML (n < 0: every later one), as a broken proxy would send.
func (a *Account) SendGarbage(action string, n int) {
	a.addFault(action, &faultRun{garbage: true, n: n})
}

func (a *Account) addFault(action string, f *faultRun) {
	if f.n == 0 {
		return
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.faults[action] = append(a.faults[action], f)
}

// SetLatency delays every later request acting in the account by d before it
// is answered (0 turns it off). The delay ends early when the client gives
// up or the server is closed.
func (a *Account) SetLatency(d time.Duration) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.latency = d
}

// SetOversizedContent makes GetCredentialReport answer, whatever the report
// state, a Content of n base64 bytes streamed without a Content-Length
// (0 turns it off). The fake does not hold the body in memory.
func (a *Account) SetOversizedContent(n int64) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.oversized = n
}

// DenyAssumeRole makes AssumeRole into any role of the account answer
// AccessDenied.
func (a *Account) DenyAssumeRole(deny bool) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.denyAssumeRole = deny
}

// RequireExternalID makes AssumeRole into the account answer AccessDenied
// unless the request carries this external ID ("" turns it off), like a
// trust policy with an sts:ExternalId condition.
func (a *Account) RequireExternalID(id string) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.externalID = id
}

// apiError is an error response of the Query protocol.
type apiError struct {
	status  int
	code    string
	message string
}

func (e apiError) faultType() string {
	if e.status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// knownErrors has the status and message AWS sends with each code. The
// credential-report errors carry no message.
var knownErrors = map[string]apiError{
	"Throttling":       {status: http.StatusBadRequest, message: "Rate exceeded"},
	"LimitExceeded":    {status: http.StatusConflict, message: "Cannot exceed quota for credential report generation."},
	"ServiceFailure":   {status: http.StatusInternalServerError, message: "The request processing has failed because of an unknown error, exception or failure."},
	"AccessDenied":     {status: http.StatusForbidden},
	"ReportNotPresent": {status: http.StatusGone},
	"ReportExpired":    {status: http.StatusGone},
	"ReportInProgress": {status: http.StatusNotFound},
}

func errorForCode(code string) apiError {
	e, ok := knownErrors[code]
	if !ok {
		e = apiError{status: http.StatusBadRequest}
	}
	e.code = code
	return e
}

func accessDenied(callerARN, action, resource string) apiError {
	return apiError{
		status:  http.StatusForbidden,
		code:    "AccessDenied",
		message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", callerARN, action, resource),
	}
}

// request is what the handler needs to answer one call.
type request struct {
	action   string
	service  service
	form     map[string][]string
	caller   identity
	account  *Account
	response responder
}

// responder writes a successful answer.
type responder func(w http.ResponseWriter, requestID string)

var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/`)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		if isCloudTrailTarget(target) {
			s.serveCloudTrail(w, r, target)
			return
		}
		s.serveJSON(w, r, target)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	if err := r.ParseForm(); err != nil {
		s.writeError(w, iamService, apiError{status: http.StatusBadRequest, code: "MalformedQueryString", message: "The request body could not be parsed."}, s.requestID())
		return
	}
	req := &request{action: r.PostForm.Get("Action"), form: r.PostForm}

	s.mu.Lock()
	requestID := s.nextRequestIDLocked()
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		req.caller = s.identityLocked(m[1])
		req.account = s.accounts[req.caller.account]
	}
	s.total++
	s.requests[RequestKey{Account: req.caller.account, Action: req.action}]++
	var latency time.Duration
	if req.account != nil {
		latency = req.account.latency
	}
	s.mu.Unlock()

	svc, known := actionServices[req.action]
	if !known {
		version := r.PostForm.Get("Version")
		s.writeError(w, iamService, apiError{
			status:  http.StatusBadRequest,
			code:    "InvalidAction",
			message: fmt.Sprintf("Could not find operation %s for version %s", req.action, version),
		}, requestID)
		return
	}
	req.service = svc
	if req.account == nil {
		s.writeError(w, svc, apiError{status: http.StatusForbidden, code: "MissingAuthenticationToken", message: "Request is missing Authentication Token"}, requestID)
		return
	}

	if latency > 0 && !s.sleep(r.Context(), latency) {
		// Returning would send an empty 200, which the SDK reads as a
		// success; a cut-off request must look like a dropped connection.
		panic(http.ErrAbortHandler)
	}

	s.mu.Lock()
	fault := req.account.popFaultLocked(req.action)
	var apiErr *apiError
	if fault == nil {
		apiErr = s.answerLocked(req)
	}
	s.mu.Unlock()

	switch {
	case fault != nil && fault.garbage:
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("x-amzn-RequestId", requestID)
		_, _ = io.WriteString(w, "<html><body>502 upstream says hello</body")
	case fault != nil:
		e := errorForCode(fault.code)
		if e.code == "AccessDenied" {
			e = accessDenied(req.caller.arn, actionPermission(req.action), "*")
		}
		s.writeError(w, svc, e, requestID)
	case apiErr != nil:
		s.writeError(w, svc, *apiErr, requestID)
	default:
		req.response(w, requestID)
	}
}

// sleep waits d, and reports false when the request or the server ended
// first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closed:
		return false
	}
}

func actionPermission(action string) string {
	if actionServices[action] == stsService {
		return "sts:" + action
	}
	return "iam:" + action
}

func (a *Account) popFaultLocked(action string) *faultRun {
	q := a.faults[action]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	if f.n > 0 {
		f.n--
		if f.n == 0 {
			a.faults[action] = q[1:]
		}
	}
	return f
}

// identityLocked maps an access key ID to its owner: a key AssumeRole issued,
// or else the default account's user.
func (s *Server) identityLocked(akid string) identity {
	if id, ok := s.keys[akid]; ok {
		return id
	}
	return identity{
		account: s.defaultAccount,
		arn:     fmt.Sprintf("arn:aws:iam::%s:user/fake-caller", s.defaultAccount),
		userID:  "AIDAFAKECALLER000000",
	}
}

func (s *Server) nextRequestIDLocked() string {
	s.requestSeq++
	return fmt.Sprintf("fa4e0000-0000-4000-8000-%012x", s.requestSeq)
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextRequestIDLocked()
}

// answerLocked advances the account's state for the request and sets
// req.response, or returns the error to answer.
func (s *Server) answerLocked(req *request) *apiError {
	a := req.account
	now := time.Now().UTC()
	switch req.action {
	case GenerateCredentialReport:
		return a.generateLocked(req, now)
	case GetCredentialReport:
		return a.getLocked(req, now)
	case ListAccountAliases:
		// The accounts have no alias.
		req.response = s.result(req, struct {
			XMLName        xml.Name `xml:"ListAccountAliasesResult"`
			AccountAliases struct{}
			IsTruncated    bool
		}{})
		return nil
	case GetAccountAuthorizationDetails:
		return a.authorizationDetailsLocked(req)
	case ListAccessKeys:
		return a.listAccessKeysLocked(req)
	case GetCallerIdentity:
		caller := req.caller
		req.response = s.result(req, struct {
			XMLName xml.Name `xml:"GetCallerIdentityResult"`
			Arn     string
			UserId  string
			Account string
		}{Arn: caller.arn, UserId: caller.userID, Account: caller.account})
		return nil
	case AssumeRole:
		return s.assumeRoleLocked(req)
	}
	return &apiError{status: http.StatusBadRequest, code: "InvalidAction"}
}

func (a *Account) generateLocked(req *request, now time.Time) *apiError {
	state, description := "", ""
	switch {
	case a.generating && (a.stuck || a.pollsLeft > 0):
		if !a.stuck {
			a.pollsLeft--
		}
		state, description = "INPROGRESS", "Report generation task in progress"
	case a.generating:
		a.generating = false
		a.report = &storedReport{content64: base64.StdEncoding.EncodeToString(a.csv), generated: now.Truncate(time.Second)}
		state, description = "COMPLETE", "Report generation is complete"
	case a.report != nil && now.Sub(a.report.generated) < ReportTTL:
		state, description = "COMPLETE", "Report generation is complete"
	default:
		a.generating = true
		a.pollsLeft = a.inProgressPolls
		state, description = "STARTED", "No report exists. Starting a new report generation task"
	}
	req.response = a.s.result(req, struct {
		XMLName     xml.Name `xml:"GenerateCredentialReportResult"`
		State       string
		Description string
	}{State: state, Description: description})
	return nil
}

func (a *Account) getLocked(req *request, now time.Time) *apiError {
	if n := a.oversized; n > 0 {
		req.response = func(w http.ResponseWriter, requestID string) { writeOversized(w, n, requestID) }
		return nil
	}
	switch {
	case a.generating:
		e := errorForCode("ReportInProgress")
		return &e
	case a.report == nil:
		e := errorForCode("ReportNotPresent")
		return &e
	case now.Sub(a.report.generated) >= ReportTTL:
		e := errorForCode("ReportExpired")
		return &e
	}
	rep := *a.report
	req.response = func(w http.ResponseWriter, requestID string) {
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("x-amzn-RequestId", requestID)
		// Written by hand because Content can be megabytes: base64 needs no
		// escaping, and an encoder would copy it again.
		var b strings.Builder
		b.Grow(len(rep.content64) + 512)
		fmt.Fprintf(&b, `<GetCredentialReportResponse xmlns="%s"><GetCredentialReportResult><Content>`, iamNamespace)
		b.WriteString(rep.content64)
		fmt.Fprintf(&b, `</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>%s</GeneratedTime></GetCredentialReportResult>`,
			rep.generated.Format(time.RFC3339))
		writeMetadata(&b, requestID)
		b.WriteString(`</GetCredentialReportResponse>`)
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		_, _ = io.WriteString(w, b.String())
	}
	return nil
}

// writeOversized streams a GetCredentialReport answer whose Content has n
// base64 bytes. Without a Content-Length the client cannot refuse it up
// front and has to stop reading by itself.
func writeOversized(w http.ResponseWriter, n int64, requestID string) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	fmt.Fprintf(w, `<GetCredentialReportResponse xmlns="%s"><GetCredentialReportResult><Content>`, iamNamespace)
	chunk := bytes.Repeat([]byte("QUFB"), 16<<10)
	for n > 0 {
		c := chunk[:min(int64(len(chunk)), n)]
		if _, err := w.Write(c); err != nil {
			return
		}
		n -= int64(len(c))
	}
	var b strings.Builder
	b.WriteString(`</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2024-04-22T19:47:52Z</GeneratedTime></GetCredentialReportResult>`)
	writeMetadata(&b, requestID)
	b.WriteString(`</GetCredentialReportResponse>`)
	_, _ = io.WriteString(w, b.String())
}

var roleARNRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[^/]+/)*([^/]+)$`)

func (s *Server) assumeRoleLocked(req *request) *apiError {
	roleARN := firstValue(req.form, "RoleArn")
	session := firstValue(req.form, "RoleSessionName")
	if session == "" {
		return &apiError{status: http.StatusBadRequest, code: "ValidationError",
			message: "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"}
	}
	m := roleARNRE.FindStringSubmatch(roleARN)
	if m == nil {
		return &apiError{status: http.StatusBadRequest, code: "ValidationError",
			message: fmt.Sprintf("%s is invalid", roleARN)}
	}
	partition, accountID, roleName := m[1], m[2], m[3]
	target, ok := s.accounts[accountID]
	if !ok || target.denyAssumeRole || (target.externalID != "" && target.externalID != firstValue(req.form, "ExternalId")) {
		e := accessDenied(req.caller.arn, "sts:AssumeRole", roleARN)
		return &e
	}
	duration := 3600
	if v, err := strconv.Atoi(firstValue(req.form, "DurationSeconds")); err == nil && v > 0 {
		duration = v
	}

	s.issued++
	akid := fmt.Sprintf("ASIAFAKE%012d", s.issued)
	roleID := fmt.Sprintf("AROAFAKE%012d", s.issued)
	assumed := identity{
		account: accountID,
		arn:     fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", partition, accountID, roleName, session),
		userID:  roleID + ":" + session,
	}
	s.keys[akid] = assumed

	type credentials struct {
		AccessKeyId     string
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	type assumedRoleUser struct {
		AssumedRoleId string
		Arn           string
	}
	req.response = s.result(req, struct {
		XMLName         xml.Name `xml:"AssumeRoleResult"`
		Credentials     credentials
		AssumedRoleUser assumedRoleUser
	}{
		Credentials: credentials{
			AccessKeyId:     akid,
			SecretAccessKey: "fake-secret-" + akid,
			SessionToken:    "fake-session-token-" + akid,
			// The SDK checks expiry against the real clock, not the fake one.
			Expiration: time.Now().UTC().Add(time.Duration(duration) * time.Second).Format(time.RFC3339),
		},
		AssumedRoleUser: assumedRoleUser{AssumedRoleId: assumed.userID, Arn: assumed.arn},
	})
	return nil
}

func firstValue(form map[string][]string, key string) string {
	if v := form[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// result returns a responder that wraps result in the action's response
// envelope.
func (s *Server) result(req *request, result any) responder {
	action, namespace := req.action, req.service.namespace
	return func(w http.ResponseWriter, requestID string) {
		body, err := xml.Marshal(result)
		if err != nil {
			s.writeError(w, req.service, apiError{status: http.StatusInternalServerError, code: "InternalFailure", message: err.Error()}, requestID)
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, action, namespace)
		b.Write(body)
		writeMetadata(&b, requestID)
		fmt.Fprintf(&b, `</%sResponse>`, action)
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("x-amzn-RequestId", requestID)
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		_, _ = io.WriteString(w, b.String())
	}
}

func writeMetadata(b *strings.Builder, requestID string) {
	fmt.Fprintf(b, `<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>`, requestID)
}

func (s *Server) writeError(w http.ResponseWriter, svc service, e apiError, requestID string) {
	var b strings.Builder
	fmt.Fprintf(&b, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code>`, svc.namespace, e.faultType(), escape(e.code))
	if e.message != "" {
		fmt.Fprintf(&b, `<Message>%s</Message>`, escape(e.message))
	}
	fmt.Fprintf(&b, `</Error><RequestId>%s</RequestId></ErrorResponse>`, requestID)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(e.status)
	_, _ = io.WriteString(w, b.String())
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
