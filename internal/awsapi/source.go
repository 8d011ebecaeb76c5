// Package awsapi is the exporter's only door to AWS: the SDK configuration,
// the credential report's generate/poll/get loop, the opt-in lookups that
// enrich it (user and account tags, access key IDs, the password policy,
// the CloudTrail callers of the keys of open rotations),
// assumed roles and their credential cache, Organizations discovery, the
// count of every request and the limit on response sizes.
package awsapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Polling while AWS builds a report: a large account's report takes from
// seconds to a few minutes, and polling faster than every couple of seconds
// only spends API quota. Each wait doubles up to the maximum.
const (
	pollInterval    = 2 * time.Second
	pollMaxInterval = 30 * time.Second
)

// maxGenerateRounds bounds how often one Fetch starts over with
// GenerateCredentialReport after Get found no usable report, so that a
// report that keeps vanishing fails the refresh instead of looping until the
// deadline.
const maxGenerateRounds = 3

// ErrReportNotReady is wrapped by the error Fetch returns when the report was
// not ready before the context's deadline.
var ErrReportNotReady = errors.New("credential report did not become ready")

// SourceOptions says how a ReportSource reads an account.
type SourceOptions struct {
	// Limits bound the report parsed (the size of the response itself is
	// bounded by the config's HTTP client: see WrapHTTPClient).
	Limits report.Limits
	// AliasInterval is how often the account alias is read again with
	// iam:ListAccountAliases; 0 never reads it. Aliases rarely change, so a
	// day keeps the cost negligible.
	AliasInterval time.Duration

	// UserTags, when not empty, are the user tags read with
	// iam:GetAccountAuthorizationDetails every UserTagsInterval.
	UserTags         report.TagKeys
	UserTagsInterval time.Duration
	// Exemptions reads the users' exemption tags (see report.ParseExemption)
	// with the same call and on the same interval as UserTags; a tag that
	// spans more than ExemptionMaxDays days (0: the default) is malformed.
	Exemptions       bool
	ExemptionMaxDays int
	// AccessKeyIDs looks the access key IDs up with iam:ListAccessKeys, for
	// the users whose keys changed, at most AccessKeyIDsRate calls per
	// second.
	AccessKeyIDs     bool
	AccessKeyIDsRate float64
	// PasswordPolicy reads iam:GetAccountPasswordPolicy on every refresh.
	PasswordPolicy bool
	// KeyCallers reads the callers of the keys of open rotations with
	// cloudtrail:LookupEvents, as Callers says. It looks keys up by ID:
	// without AccessKeyIDs, every key counts as missing.
	KeyCallers bool
	Callers    CallerOptions
}

// iamClient is the part of the IAM client that a ReportSource calls; unit
// tests put functions in its place.
type iamClient interface {
	GenerateCredentialReport(context.Context, *iam.GenerateCredentialReportInput, ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(context.Context, *iam.GetCredentialReportInput, ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	ListAccountAliases(context.Context, *iam.ListAccountAliasesInput, ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error)
	GetAccountAuthorizationDetails(context.Context, *iam.GetAccountAuthorizationDetailsInput, ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccountPasswordPolicy(context.Context, *iam.GetAccountPasswordPolicyInput, ...func(*iam.Options)) (*iam.GetAccountPasswordPolicyOutput, error)
}

// ReportSource fetches the credential report of one account from IAM, and
// the enrichment its options ask for.
type ReportSource struct {
	client    iamClient
	accountID string
	opts      SourceOptions
	logger    *slog.Logger

	// The caches below are not locked: Fetch is never called concurrently
	// for one source.
	alias       string
	aliasReadAt time.Time
	enrichment
}

// NewReportSource returns a source that reads the report of one account
// with cfg's credentials. accountID names the account in errors and logs;
// it may be "" when it is not known yet.
func NewReportSource(cfg aws.Config, accountID string, opts SourceOptions, logger *slog.Logger) *ReportSource {
	s := newReportSource(iam.NewFromConfig(cfg), accountID, opts, logger)
	if opts.KeyCallers {
		s.trail = cloudtrail.NewFromConfig(cfg)
	}
	return s
}

func newReportSource(client iamClient, accountID string, opts SourceOptions, logger *slog.Logger) *ReportSource {
	s := &ReportSource{
		client:    client,
		accountID: accountID,
		opts:      opts,
		logger:    logger.With("account_id", accountID),
	}
	s.initEnrichment()
	return s
}

// Fetch asks IAM for a current report and returns it parsed. In the steady
// state (a report younger than 4 hours exists) that is two calls:
// GenerateCredentialReport answers COMPLETE, GetCredentialReport answers the
// report. Otherwise it polls Generate with exponential backoff while AWS
// builds the report, and gives up with ErrReportNotReady when the next poll
// would come after ctx's deadline. Throttling and server errors are retried
// by the SDK's retryer; LimitExceeded, which the SDK does not retry, is
// backed off here.
func (s *ReportSource) Fetch(ctx context.Context) (*report.Report, error) {
	f := &fetch{src: s, wait: pollInterval, lastState: "none"}
	rep, err := f.run(ctx)
	if err != nil {
		return nil, err
	}
	rep.AccountAlias = s.accountAlias(ctx)
	s.enrich(ctx, rep)
	return rep, nil
}

// accountAlias returns the account alias, read again once AliasInterval has
// passed. It is optional: without iam:ListAccountAliases the alias stays
// empty and the report is still served.
func (s *ReportSource) accountAlias(ctx context.Context) string {
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
	src  *ReportSource
	wait time.Duration
	// lastState is the last report state or error code seen, for the error
	// when the deadline ends the fetch.
	lastState string
	calls     int
}

func (f *fetch) run(ctx context.Context) (*report.Report, error) {
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
			return nil, f.fail(ctx, stepGet, err)
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
	f.wait = min(2*f.wait, pollMaxInterval)
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

// stepGet names the GetCredentialReport step in errors.
const stepGet = "get credential report"

// fail turns an error of step into the error Fetch returns.
func (f *fetch) fail(ctx context.Context, step string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return f.notReady(fmt.Errorf("%s: %w", step, err))
	}
	if isAccessDenied(err) {
		return f.src.accessDenied(err)
	}
	if errors.Is(err, ErrResponseTooLarge) {
		err = fmt.Errorf("the response is larger than the configured limit; raise it if the account has that many users: %w", err)
		if step == stepGet {
			// An oversized report is a rejected report, and counted as one.
			err = fmt.Errorf("%w: %w", report.ErrInvalidReport, err)
		}
		return fmt.Errorf("%s%s: %w", step, f.src.inAccount(), err)
	}
	return fmt.Errorf("%s%s: %w", step, f.src.inAccount(), err)
}

// accessDenied names the permission that is missing. The operation is the
// innermost one in the chain: when assuming the role fails, the IAM call
// wraps the STS one.
func (s *ReportSource) accessDenied(err error) error {
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

func (s *ReportSource) inAccount() string {
	if s.accountID == "" {
		return ""
	}
	return " for account " + s.accountID
}

func (s *ReportSource) decode(out *iam.GetCredentialReportOutput) (*report.Report, error) {
	if out.ReportFormat != "" && out.ReportFormat != types.ReportFormatTypeTextCsv {
		return nil, fmt.Errorf("get credential report%s: %w: unsupported report format %q", s.inAccount(), report.ErrInvalidReport, out.ReportFormat)
	}
	// The SDK has already decoded the base64 of Content.
	rep, err := s.opts.Limits.Parse(bytes.NewReader(out.Content))
	if err != nil {
		return nil, fmt.Errorf("parse credential report%s: %w", s.inAccount(), err)
	}
	if out.GeneratedTime != nil {
		if err := report.CheckGeneratedTime(*out.GeneratedTime, time.Now()); err != nil {
			return nil, fmt.Errorf("get credential report%s: %w", s.inAccount(), err)
		}
		rep.GeneratedAt = out.GeneratedTime.UTC()
	}
	return rep, nil
}

// errorCode is the AWS error code of err, or "".
