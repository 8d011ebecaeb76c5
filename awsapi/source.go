package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/iam-credential-exporter/iam_credential_exporter/accounts"
)

// Defaults of AWSOptions. A report of a large account takes from seconds to
// a few minutes to build; polling faster than every couple of seconds only
// spends API quota.
const (
	DefaultPollInterval    = 2 * time.Second
	DefaultPollMaxInterval = 30 * time.Second
)

// maxGenerateRounds bounds how often one Fetch starts over with
// GenerateCredentialReport after Get found no usable report, so that a
// report that keeps vanishing fails the refresh instead of looping until the
// deadline.
const maxGenerateRounds = 3

// SessionName is the role session name used when assuming --aws.role-arn; it
// shows in the target account's CloudTrail.
const SessionName = "iam_credential_exporter"

// ErrReportNotReady is wrapped by the error Fetch returns when the report was
// not ready before the context's deadline.
var ErrReportNotReady = errors.New("credential report did not become ready")

// ErrResponseTooLarge is wrapped by the error of a request whose response
// body exceeds the limit set with NewHTTPClient or ConfigOptions.
var ErrResponseTooLarge = errors.New("AWS response body exceeds the size limit")

// AWSOptions tunes an AWSSource. Zero fields take the defaults.
type AWSOptions struct {
	// PollInterval is the first wait between polls while AWS builds the
	// report (default DefaultPollInterval). Each wait doubles, up to
	// PollMaxInterval (default DefaultPollMaxInterval).
	PollInterval    time.Duration
	PollMaxInterval time.Duration
	// AliasInterval is how often the account alias is read with
	// iam:ListAccountAliases, on top of the report's two calls; 0 never
	// reads it. Aliases rarely change, so a day keeps the cost negligible.
	AliasInterval time.Duration
	// Observe, when not nil, is called after every HTTP attempt of the IAM
	// client, retries included, with the operation name and "" on success
	// or the failure's code (see ObserveRequests).
	Observe func(operation, code string)
}

// AWSSource fetches the credential report of one account from IAM.
type AWSSource struct {
	client    *iam.Client
	accountID string
	opts      AWSOptions
	logger    *slog.Logger

	// The alias cache; Fetch is never called concurrently for one source.
	alias       string
	aliasReadAt time.Time
}

var _ Source = (*AWSSource)(nil)

// NewAWSSource returns a source that reads the report with cfg's
// credentials. accountID names the account in errors and logs; it may be ""
// when it is not known yet.
func NewAWSSource(cfg aws.Config, accountID string, opts AWSOptions, logger *slog.Logger) *AWSSource {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.PollMaxInterval <= 0 {
		opts.PollMaxInterval = DefaultPollMaxInterval
	}
	opts.PollMaxInterval = max(opts.PollMaxInterval, opts.PollInterval)
	client := iam.NewFromConfig(cfg, func(o *iam.Options) {
		if opts.Observe != nil {
			// Clip so that appending never writes into cfg.APIOptions'
			// backing array, which other clients share.
			o.APIOptions = append(slices.Clip(o.APIOptions), ObserveRequests(opts.Observe))
		}
	})
	return &AWSSource{client: client, accountID: accountID, opts: opts, logger: logger.With("account_id", accountID)}
}

// Fetch asks IAM for a current report and returns it parsed. In the steady
// state (a report younger than 4 hours exists) that is two calls:
// GenerateCredentialReport answers COMPLETE, GetCredentialReport answers the
// report. Otherwise it polls Generate with exponential backoff while AWS
// builds the report, and gives up with ErrReportNotReady when the next poll
// would come after ctx's deadline. Throttling and server errors are retried
// by the SDK's retryer; LimitExceeded, which the SDK does not retry, is
// backed off here.
func (s *AWSSource) Fetch(ctx context.Context) (*Report, error) {
	f := &fetch{src: s, wait: s.opts.PollInterval, lastState: "none"}
	rep, err := f.run(ctx)
	if err != nil {
		return nil, err
	}
	rep.AccountAlias = s.accountAlias(ctx)
	return rep, nil
}

// accountAlias returns the account alias, read again once AliasInterval has
// passed. It is optional: without iam:ListAccountAliases the alias stays
// empty and the report is still served.
func (s *AWSSource) accountAlias(ctx context.Context) string {
	if s.opts.AliasInterval <= 0 || (!s.aliasReadAt.IsZero() && time.Since(s.aliasReadAt) < s.opts.AliasInterval) {
		return s.alias
	}
	s.aliasReadAt = time.Now()
	out, err := s.client.ListAccountAliases(ctx, &iam.ListAccountAliasesInput{})
	if err != nil {
		s.logger.Info("cannot read the account alias; it stays empty in aws_iam_account_info (allow iam:ListAccountAliases to show it)", "err", err)
		return s.alias
	}
	s.alias = ""
	if len(out.AccountAliases) > 0 {
		s.alias = out.AccountAliases[0]
	}
	return s.alias
}

// fetch is the state of one Fetch.
type fetch struct {
	src  *AWSSource
	wait time.Duration
	// lastState is the last report state or error code seen, for the error
	// when the deadline ends the fetch.
	lastState string
	calls     int
}

func (f *fetch) run(ctx context.Context) (*Report, error) {
	generate := true
	for rounds := 0; ; {
		if generate {
			if rounds == maxGenerateRounds {
				return nil, fmt.Errorf("get credential report%s: no report after %d generations (last state %s)",
					f.src.inAccount(), maxGenerateRounds, f.lastState)
			}
			rounds++
			if err := f.generate(ctx); err != nil {
				return nil, err
			}
		}

		f.calls++
		out, err := f.src.client.GetCredentialReport(ctx, nil)
		if err == nil {
			return f.src.decode(out)
		}
		var (
			notPresent *types.CredentialReportNotPresentException
			expired    *types.CredentialReportExpiredException
			notReady   *types.CredentialReportNotReadyException
			limit      *types.LimitExceededException
		)
		switch {
		case errors.As(err, &notPresent), errors.As(err, &expired):
			// Generate said COMPLETE but the report is gone or stale by
			// now: start a new one.
			f.lastState = errorCode(err)
			generate = true
		case errors.As(err, &notReady), errors.As(err, &limit):
			f.lastState = errorCode(err)
			generate = false
			if err := f.sleep(ctx); err != nil {
				return nil, err
			}
		default:
			return nil, f.fail(ctx, "get credential report", err)
		}
	}
}

// generate calls GenerateCredentialReport until it answers COMPLETE.
func (f *fetch) generate(ctx context.Context) error {
	for {
		f.calls++
		out, err := f.src.client.GenerateCredentialReport(ctx, nil)
		if err != nil {
			var limit *types.LimitExceededException
			if !errors.As(err, &limit) {
				return f.fail(ctx, "generate credential report", err)
			}
			f.lastState = errorCode(err)
		} else {
			switch out.State {
			case types.ReportStateTypeComplete:
				return nil
			case types.ReportStateTypeStarted, types.ReportStateTypeInprogress:
				f.lastState = string(out.State)
			default:
				return fmt.Errorf("generate credential report%s: unexpected report state %q", f.src.inAccount(), out.State)
			}
		}
		if err := f.sleep(ctx); err != nil {
			return err
		}
	}
}

// sleep waits the current backoff and doubles it. It fails at once when the
// wait would outlast ctx's deadline: the poll after it could not happen.
func (f *fetch) sleep(ctx context.Context) error {
	d := f.wait
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return f.notReady(nil)
	}
	f.wait = min(2*f.wait, f.src.opts.PollMaxInterval)
	f.src.logger.Debug("credential report not ready; waiting", "state", f.lastState, "wait", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return f.fail(ctx, "wait for credential report", ctx.Err())
	}
}

func (f *fetch) notReady(cause error) error {
	err := fmt.Errorf("%w%s within the timeout (last state %s after %d calls)",
		ErrReportNotReady, f.src.inAccount(), f.lastState, f.calls)
	if cause != nil {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// fail turns an error of step into the error Fetch returns.
func (f *fetch) fail(ctx context.Context, step string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return f.notReady(fmt.Errorf("%s: %w", step, err))
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDenied" {
		return f.src.accessDenied(err)
	}
	if errors.Is(err, ErrResponseTooLarge) {
		return fmt.Errorf("%s%s: the response is larger than the configured limit; raise it if the account has that many users: %w",
			step, f.src.inAccount(), err)
	}
	return fmt.Errorf("%s%s: %w", step, f.src.inAccount(), err)
}

// accessDenied names the permission that is missing. The operation is the
// innermost one in the chain: when assuming the role fails, the IAM call
// wraps the STS one.
func (s *AWSSource) accessDenied(err error) error {
	var op *smithy.OperationError
	for e := err; e != nil; e = errors.Unwrap(e) {
		if o, ok := e.(*smithy.OperationError); ok {
			op = o
		}
	}
	if op == nil {
		return fmt.Errorf("access denied%s: %w", s.inAccount(), err)
	}
	action := strings.ToLower(op.ServiceID) + ":" + op.OperationName
	if action == "sts:AssumeRole" {
		return fmt.Errorf("access denied: the role cannot be assumed (check sts:AssumeRole in the caller's policy, and the role's trust policy and external ID): %w", err)
	}
	where := "in their account"
	if s.accountID != "" {
		where = "in account " + s.accountID
	}
	return fmt.Errorf("access denied: the credentials lack %s %s: %w", action, where, err)
}

func (s *AWSSource) inAccount() string {
	if s.accountID == "" {
		return ""
	}
	return " for account " + s.accountID
}

func (s *AWSSource) decode(out *iam.GetCredentialReportOutput) (*Report, error) {
	if out.ReportFormat != "" && out.ReportFormat != types.ReportFormatTypeTextCsv {
		return nil, fmt.Errorf("get credential report%s: unsupported report format %q", s.inAccount(), out.ReportFormat)
	}
	// The SDK has already decoded the base64 of Content.
	rep, err := Parse(bytes.NewReader(out.Content))
	if err != nil {
		return nil, fmt.Errorf("parse credential report%s: %w", s.inAccount(), err)
	}
	if out.GeneratedTime != nil {
		rep.GeneratedAt = out.GeneratedTime.UTC()
	}
	return rep, nil
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// ObserveRequests returns an SDK API option that calls observe after every
// HTTP attempt of an operation, retries included. code is "" on success, the
// AWS error code when AWS answered an error, or else a short class:
// "timeout", "canceled", "response_too_large", "invalid_response" (a body
// that is not the protocol's XML), "network" or "other".
//
// The middleware goes last in the Finalize step, after the retry and signing
// middlewares, so it sees each attempt that was sent, with the error its
// response deserialized to.
func ObserveRequests(observe func(operation, code string)) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(observeMiddleware{observe: observe}, middleware.After)
	}
}

type observeMiddleware struct {
	observe func(operation, code string)
}

func (observeMiddleware) ID() string { return "IAMCredentialExporterObserveRequests" }

func (m observeMiddleware) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleFinalize(ctx, in)
	m.observe(middleware.GetOperationName(ctx), requestErrorCode(err))
	return out, md, err
}

func requestErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if code := errorCode(err); code != "" {
		return code
	}
	var (
		timeout interface{ Timeout() bool }
		deser   *smithy.DeserializationError
		send    *smithyhttp.RequestSendError
	)
	switch {
	case errors.Is(err, ErrResponseTooLarge):
		return "response_too_large"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &timeout) && timeout.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &deser):
		return "invalid_response"
	case errors.As(err, &send):
		return "network"
	}
	return "other"
}

// NewHTTPClient returns the SDK's default HTTP client with a limit on the
// size of response bodies (none when maxResponseBytes <= 0). The SDK reads a
// whole response into memory before decoding it, so without a limit a
// misbehaving endpoint or proxy could exhaust it.
//
// The client also shields the SDK from a race that drops connections: see
// sdkClient.Do.
func NewHTTPClient(maxResponseBytes int64) aws.HTTPClient {
	return WrapHTTPClient(awshttp.NewBuildableClient(), maxResponseBytes)
}

// WrapHTTPClient is NewHTTPClient around another HTTP client, such as one
// the SDK's configuration chain built.
func WrapHTTPClient(next aws.HTTPClient, maxResponseBytes int64) aws.HTTPClient {
	return &sdkClient{next: next, max: maxResponseBytes}
}

type sdkClient struct {
	next aws.HTTPClient
	// max is the response size limit; <= 0 is none.
	max int64
}

// Do hands the request body to the transport without its WriteTo method.
// The SDK closes a request body as soon as Do returns, while net/http may
// still be reading the body past its Content-Length to check for extra
// bytes. Through WriteTo, the SDK's closed body answers that read with
// io.EOF as an error, and net/http then closes the connection under the
// response being read ("use of closed network connection"). Read reports a
// clean end instead. The race is frequent on loopback and possible anywhere.
//
// An oversized response is handed back with a body that fails on read,
// rather than failing here: the SDK retries an error from Do as a
// connection error, and would download the oversized body again, but it
// does not retry a body that cannot be decoded.
func (c *sdkClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req = req.WithContext(req.Context())
		req.Body = readCloserOnly{req.Body}
	}
	resp, err := c.next.Do(req)
	if err != nil || resp.Body == nil || c.max <= 0 {
		return resp, err
	}
	if resp.ContentLength > c.max {
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(errReader{fmt.Errorf("%w: %d bytes announced, the limit is %d", ErrResponseTooLarge, resp.ContentLength, c.max)})
		return resp, nil
	}
	resp.Body = &limitedBody{body: resp.Body, remaining: c.max, max: c.max}
	return resp, nil
}

// readCloserOnly hides every method of a body but Read and Close.
type readCloserOnly struct{ io.ReadCloser }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// limitedBody fails once more than max bytes have been read.
type limitedBody struct {
	body      io.ReadCloser
	remaining int64
	max       int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.remaining <= 0 {
		// One more byte tells a body of exactly max bytes from a longer one.
		var one [1]byte
		n, err := b.body.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, b.max)
		}
		return 0, err
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.body.Read(p)
	b.remaining -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.body.Close() }

// ConfigOptions are the exporter's settings for the AWS configuration.
type ConfigOptions struct {
	// Region is used when set; otherwise the SDK's chain (AWS_REGION,
	// shared config) decides, then the role ARN's partition, then
	// us-east-1. IAM is global, so the region only picks the STS endpoint
	// and the partition.
	Region string
	// Partition picks the default region when none is configured: that of
	// the partition's global endpoints. Default "aws" (or RoleARN's).
	Partition string
	// RoleARN, when set, is assumed with the base credentials, with
	// ExternalID when that is set.
	RoleARN    string
	ExternalID string
	// MaxResponseBytes limits response bodies (see NewHTTPClient); <= 0 is
	// no limit.
	MaxResponseBytes int64
	// RetryMaxAttempts overrides the SDK's attempts per call (default 3)
	// when > 0.
	RetryMaxAttempts int
}

// partitionRegions are the regions whose STS endpoints serve a partition.
var partitionRegions = map[string]string{
	"aws":        "us-east-1",
	"aws-cn":     "cn-north-1",
	"aws-us-gov": "us-gov-west-1",
}

// LoadAWSConfig builds the AWS configuration: the SDK's default chain for
// credentials and region (environment, shared config and SSO, web identity,
// ECS, EC2 instance metadata; AWS_ENDPOINT_URL_* are honoured), the
// response size limit, and the assumed role when RoleARN is set. extra
// options go to config.LoadDefaultConfig after the ones built from opts.
func LoadAWSConfig(ctx context.Context, opts ConfigOptions, extra ...func(*config.LoadOptions) error) (aws.Config, error) {
	partition := "aws"
	if opts.Partition != "" {
		partition = opts.Partition
	}
	if opts.RoleARN != "" {
		p, _, err := accounts.ParseRoleARN(opts.RoleARN)
		if err != nil {
			return aws.Config{}, err
		}
		partition = p
	}

	var loadOpts []func(*config.LoadOptions) error
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.RetryMaxAttempts > 0 {
		loadOpts = append(loadOpts, config.WithRetryMaxAttempts(opts.RetryMaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(loadOpts, extra...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("read AWS shared config and environment: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = partitionRegions[partition]
	}
	next := cfg.HTTPClient
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	// Wrapping the loaded client keeps what the chain configured on it, such
	// as AWS_CA_BUNDLE.
	cfg.HTTPClient = WrapHTTPClient(next, opts.MaxResponseBytes)
	if opts.RoleARN != "" {
		cfg = AssumeRole(cfg, opts.RoleARN, opts.ExternalID)
	}
	return cfg, nil
}

// AssumeRole returns a copy of base whose credentials are those of roleARN,
// assumed with base's credentials (and externalID when not ""). They are
// cached and renewed before they expire, so each account costs one
// sts:AssumeRole an hour, not one per refresh.
func AssumeRole(base aws.Config, roleARN, externalID string) aws.Config {
	cfg := base.Copy()
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), roleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = SessionName
		if externalID != "" {
			o.ExternalID = aws.String(externalID)
		}
	})
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}

// PartitionOfRegion returns the partition of an AWS region name.
func PartitionOfRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// CallerAccount returns the account of cfg's credentials. It calls
// sts:GetCallerIdentity, which needs no permission.
func CallerAccount(ctx context.Context, cfg aws.Config) (string, error) {
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("get caller identity: %w", err)
	}
	return aws.ToString(out.Account), nil
}
