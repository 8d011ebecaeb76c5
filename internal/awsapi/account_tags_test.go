package awsapi

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/testenv"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// tagLister answers ListTagsForResource from tags, or fails with err.
type tagLister struct {
	tags  map[string][]types.Tag
	err   error
	calls []string
}

func (l *tagLister) ListTagsForResource(_ context.Context, in *organizations.ListTagsForResourceInput, _ ...func(*organizations.Options)) (*organizations.ListTagsForResourceOutput, error) {
	id := aws.ToString(in.ResourceId)
	l.calls = append(l.calls, id)
	if l.err != nil {
		return nil, l.err
	}
	return &organizations.ListTagsForResourceOutput{Tags: l.tags[id]}, nil
}

func orgTag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// A denied or failing read keeps the last good tags, a denial is logged
// once, and accounts never read before are read first next time.
func TestAccountTagsKeepLastGood(t *testing.T) {
	lister := &tagLister{tags: map[string][]types.Tag{
		"111111111111": {orgTag("owner", "platform"), orgTag("Name", "prod")},
		"222222222222": {orgTag("Owner", "data")},
	}}
	var logs testenv.Buffer
	a := NewAccountTags(lister, report.TagKeys{"owner"}, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := t.Context()

	got, ok := a.Read(ctx, []string{"111111111111", "222222222222"})
	want := map[string][]report.Tag{
		"111111111111": {{Key: "owner", Value: "platform"}},
		"222222222222": {{Key: "owner", Value: "data"}},
	}
	if !ok || len(got) != 2 || !slices.Equal(got["111111111111"], want["111111111111"]) || !slices.Equal(got["222222222222"], want["222222222222"]) {
		t.Fatalf("Read = %v, %v; want %v, true", got, ok, want)
	}

	lister.err = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed"}
	for range 3 {
		got, ok = a.Read(ctx, []string{"111111111111", "222222222222", "333333333333"})
		if ok || !slices.Equal(got["111111111111"], want["111111111111"]) || len(got) != 2 {
			t.Errorf("denied: Read = %v, %v; want the last good tags, false", got, ok)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "organizations:ListTagsForResource") {
		t.Errorf("%d warnings in 3 denied reads, want 1 naming the action:\n%s", n, logs.String())
	}
	// The account never read comes first in every read.
	if lister.calls[len(lister.calls)-1] != "333333333333" {
		t.Errorf("calls = %v; the account never read must be tried first", lister.calls)
	}

	lister.err = nil
	lister.calls = nil
	got, ok = a.Read(ctx, []string{"222222222222", "333333333333"})
	if !ok || len(got) != 1 || lister.calls[0] != "333333333333" {
		t.Errorf("recovered: Read = %v, %v, calls %v; want 222222222222's tags, the new account read first", got, ok, lister.calls)
	}
	if !strings.Contains(logs.String(), "reading account tags is permitted again") {
		t.Errorf("the recovery is not logged:\n%s", logs.String())
	}
}
