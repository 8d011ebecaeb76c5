package awsapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
)

// iamFuncs stands in for the IAM client of a ReportSource in unit tests, as
// yet-another-cloudwatch-exporter's client mocks do: each call runs the
// function of its operation and is counted; a call whose function is nil
// fails the test. What only the SDK and the wire can do (retries, bodies,
// hangs) is tested against internal/fakeaws instead.
type iamFuncs struct {
	t        *testing.T
	generate func() (*iam.GenerateCredentialReportOutput, error)
	get      func() (*iam.GetCredentialReportOutput, error)
	aliases  func() (*iam.ListAccountAliasesOutput, error)
	users    func(*iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error)
	keys     func(*iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error)
	policy   func() (*iam.GetAccountPasswordPolicyOutput, error)
	// calls counts the calls by operation.
	calls map[string]int
}

// called counts a call of op, and fails the test when op has no function.
func (f *iamFuncs) called(op string, set bool) error {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
	if !set {
		f.t.Errorf("unexpected call of %s", op)
		return fmt.Errorf("iamFuncs: no %s", op)
	}
	return nil
}

func (f *iamFuncs) GenerateCredentialReport(_ context.Context, _ *iam.GenerateCredentialReportInput, _ ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	if err := f.called("GenerateCredentialReport", f.generate != nil); err != nil {
		return nil, err
	}
	return f.generate()
}

func (f *iamFuncs) GetCredentialReport(_ context.Context, _ *iam.GetCredentialReportInput, _ ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	if err := f.called("GetCredentialReport", f.get != nil); err != nil {
		return nil, err
	}
	return f.get()
}

func (f *iamFuncs) ListAccountAliases(_ context.Context, _ *iam.ListAccountAliasesInput, _ ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error) {
	if err := f.called("ListAccountAliases", f.aliases != nil); err != nil {
		return nil, err
	}
	return f.aliases()
}

func (f *iamFuncs) GetAccountAuthorizationDetails(_ context.Context, in *iam.GetAccountAuthorizationDetailsInput, _ ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	if err := f.called("GetAccountAuthorizationDetails", f.users != nil); err != nil {
		return nil, err
	}
	return f.users(in)
}

func (f *iamFuncs) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	if err := f.called("ListAccessKeys", f.keys != nil); err != nil {
		return nil, err
	}
	return f.keys(in)
}

func (f *iamFuncs) GetAccountPasswordPolicy(_ context.Context, _ *iam.GetAccountPasswordPolicyInput, _ ...func(*iam.Options)) (*iam.GetAccountPasswordPolicyOutput, error) {
	if err := f.called("GetAccountPasswordPolicy", f.policy != nil); err != nil {
		return nil, err
	}
	return f.policy()
}

// withReport returns an account whose credential report is csv, current:
// Generate answers COMPLETE, Get the report generated an hour ago.
func withReport(t *testing.T, csv []byte) *iamFuncs {
	f := &iamFuncs{t: t, generate: complete}
	f.setReport(csv)
	return f
}

func complete() (*iam.GenerateCredentialReportOutput, error) {
	return &iam.GenerateCredentialReportOutput{State: types.ReportStateTypeComplete}, nil
}

func (f *iamFuncs) setReport(csv []byte) {
	f.get = func() (*iam.GetCredentialReportOutput, error) {
		return &iam.GetCredentialReportOutput{Content: csv, ReportFormat: types.ReportFormatTypeTextCsv, GeneratedTime: aws.Time(time.Now().Add(-time.Hour))}, nil
	}
}

// withUsers returns an account of users: its report is theirs, and the
// user listing and the key lookups answer from them.
func withUsers(t *testing.T, users []fakeaws.User) *iamFuncs {
	f := &iamFuncs{t: t, generate: complete}
	f.setUsers(users)
	return f
}

func (f *iamFuncs) setUsers(users []fakeaws.User) {
	f.setReport(fakeaws.ReportCSV(baseAccount, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), users))
	f.users = listUsers(users, 0, 0)
	f.keys = listKeys(users)
}

// listUsers answers GetAccountAuthorizationDetails from users, pageSize a
// page (MaxItems when 0), with offsets as markers. A page whose names, tag
// keys and values take more than limit bytes (0: no limit) fails as the
// exporter's HTTP client fails a response over its size limit.
func listUsers(users []fakeaws.User, pageSize, limit int) func(*iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	return func(in *iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error) {
		start, _ := strconv.Atoi(aws.ToString(in.Marker))
		size := int(aws.ToInt32(in.MaxItems))
		if pageSize > 0 {
			size = min(size, pageSize)
		}
		end := min(start+size, len(users))
		out := &iam.GetAccountAuthorizationDetailsOutput{}
		bytes := 0
		for _, u := range users[start:end] {
			d := types.UserDetail{UserName: aws.String(u.Name)}
			bytes += len(u.Name)
			for _, tag := range u.Tags {
				d.Tags = append(d.Tags, types.Tag{Key: aws.String(tag.Key), Value: aws.String(tag.Value)})
				bytes += len(tag.Key) + len(tag.Value)
			}
			out.UserDetailList = append(out.UserDetailList, d)
		}
		if limit > 0 && bytes > limit {
			return nil, awsError("GetAccountAuthorizationDetails", fmt.Errorf("%w: more than %d bytes", awsapi.ErrResponseTooLarge, limit))
		}
		if end < len(users) {
			out.IsTruncated, out.Marker = true, aws.String(strconv.Itoa(end))
		}
		return out, nil
	}
}

// listKeys answers ListAccessKeys from users, and NoSuchEntity for a user
// not among them. IAM does not tell user names apart by case.
func listKeys(users []fakeaws.User) func(*iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error) {
	return func(in *iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error) {
		i := slices.IndexFunc(users, func(u fakeaws.User) bool { return strings.EqualFold(u.Name, aws.ToString(in.UserName)) })
		if i < 0 {
			return nil, awsError("ListAccessKeys", &types.NoSuchEntityException{})
		}
		return &iam.ListAccessKeysOutput{AccessKeyMetadata: keysOf(users[i])}, nil
	}
}

func keysOf(u fakeaws.User) []types.AccessKeyMetadata {
	var out []types.AccessKeyMetadata
	for _, k := range u.AccessKeys {
		status := types.StatusTypeInactive
		if k.Active {
			status = types.StatusTypeActive
		}
		out = append(out, types.AccessKeyMetadata{UserName: aws.String(u.Name), AccessKeyId: aws.String(k.ID), Status: status, CreateDate: aws.Time(k.Created)})
	}
	return out
}

// awsError is err as the SDK returns it from operation op of IAM.
func awsError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "IAM", OperationName: op, Err: err}
}

// awsCode is the error of an AWS answer with code to operation op.
func awsCode(op, code string) error {
	return awsError(op, &smithy.GenericAPIError{Code: code, Message: "injected by the test"})
}

// funcSource returns a source of f's account with opts and a log of its
// messages at info level and above.
func funcSource(f *iamFuncs, opts awsapi.SourceOptions) (*awsapi.ReportSource, *testenv.Buffer) {
	var logs testenv.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if opts.AccessKeyIDsRate == 0 {
		opts.AccessKeyIDsRate = 1e6
	}
	return awsapi.NewTestSource(f, baseAccount, opts, logger), &logs
}
