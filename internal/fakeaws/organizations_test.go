package fakeaws

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/smithy-go"
)

// listAll pages through ListAccounts with the SDK's paginator and returns
// "id:state" of every account, page by page.
func listAll(ctx context.Context, client *organizations.Client, maxResults int32) ([][]string, error) {
	in := &organizations.ListAccountsInput{}
	if maxResults > 0 {
		in.MaxResults = aws.Int32(maxResults)
	}
	var pages [][]string
	p := organizations.NewListAccountsPaginator(client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return pages, err
		}
		var page []string
		for _, a := range out.Accounts {
			page = append(page, aws.ToString(a.Id)+":"+string(a.State))
		}
		pages = append(pages, page)
	}
	return pages, nil
}

func TestListAccounts(t *testing.T) {
	s, _ := newServer(t)
	client := organizations.NewFromConfig(s.Config())

	_, err := listAll(t.Context(), client, 0)
	var notInUse *orgtypes.AWSOrganizationsNotInUseException
	if !errors.As(err, &notInUse) {
		t.Errorf("ListAccounts without an organization: %v, want AWSOrganizationsNotInUseException", err)
	}

	var list []OrgAccount
	for i := range 5 {
		list = append(list, OrgAccount{ID: fmt.Sprintf("30000000000%d", i), Name: fmt.Sprint("member-", i)})
	}
	list[3].State = "SUSPENDED"
	s.SetOrganization(list, 2)
	s.ResetRequests()
	var seen []int
	s.OnListAccountsPage(func(_ context.Context, page int) { seen = append(seen, page) })
	pages, err := listAll(t.Context(), client, 0)
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	want := "[[300000000000:ACTIVE 300000000001:ACTIVE] [300000000002:ACTIVE 300000000003:SUSPENDED] [300000000004:ACTIVE]]"
	if got := fmt.Sprint(pages); got != want {
		t.Errorf("pages = %s, want %s", got, want)
	}
	if !slices.Equal(seen, []int{0, 1, 2}) {
		t.Errorf("hook saw pages %v, want [0 1 2]", seen)
	}
	if n := s.Requests(defaultAccount, ListAccounts); n != 3 {
		t.Errorf("request log has %d ListAccounts in the caller's account, want 3", n)
	}
	if pages, _ := listAll(t.Context(), client, 1); len(pages) != 5 {
		t.Errorf("MaxResults 1 gave %d pages, want 5", len(pages))
	}

	s.DefaultAccount().Fail(ListAccounts, "AccessDeniedException", 1)
	pages, err = listAll(t.Context(), client, 0)
	var denied *orgtypes.AccessDeniedException
	if !errors.As(err, &denied) || len(pages) != 0 {
		t.Errorf("after an injected AccessDeniedException: %d pages, error %v", len(pages), err)
	}
	s.DefaultAccount().Fail(ListAccounts, "TooManyRequestsException", 1)
	if _, err := listAll(t.Context(), client, 0); err != nil {
		t.Errorf("one TooManyRequestsException is retried by the SDK, got %v", err)
	}
	s.DefaultAccount().SendGarbage(ListAccounts, -1)
	_, err = listAll(t.Context(), client, 0)
	var opErr *smithy.OperationError
	if !errors.As(err, &opErr) {
		t.Errorf("garbage answer: %v, want an operation error", err)
	}
}
