package awsapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iam-credential-exporter/iam_credential_exporter/accounts"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// Lister is the part of the Organizations client that discovery uses.
type Lister interface {
	ListAccounts(context.Context, *organizations.ListAccountsInput, ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error)
}

const discoveryNeeds = "discovery needs organizations:ListAccounts, called from the organization's management account or a delegated administrator"

// Discover lists the ACTIVE accounts of the organization, sorted by ID, each
// with the role of org to assume in it. Accounts in any other state
// (SUSPENDED, PENDING_CLOSURE, CLOSED, PENDING_ACTIVATION) are left out:
// their IAM cannot be read, and exporting them would only add errors.
// selfAccountID, the account of the exporter's own credentials ("" if
// unknown), gets no role: it is read with those credentials, so the
// management account needs no extra role.
func Discover(ctx context.Context, client Lister, partition string, org accounts.OrgConfig, selfAccountID string) ([]accounts.Account, error) {
	if _, ok := report.LookupPartition(partition); !ok {
		return nil, fmt.Errorf("discover organization accounts: unknown partition %q", partition)
	}
	if err := org.Validate(); err != nil {
		return nil, fmt.Errorf("discover organization accounts: %w", err)
	}
	var found []accounts.Account
	var prevToken string
	pages := organizations.NewListAccountsPaginator(client, &organizations.ListAccountsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, listError(err)
		}
		// The paginator would follow a repeated token forever, or until the
		// deadline, and then report only a timeout.
		token := aws.ToString(page.NextToken)
		if token != "" && token == prevToken {
			return nil, fmt.Errorf("list organization accounts: ListAccounts returned the same NextToken twice")
		}
		prevToken = token
		for _, a := range page.Accounts {
			if !active(a) {
				continue
			}
			id := aws.ToString(a.Id)
			if !accounts.ValidID(id) {
				return nil, fmt.Errorf("list organization accounts: ListAccounts returned account ID %q, not 12 digits", id)
			}
			acct := accounts.Account{ID: id, Name: aws.ToString(a.Name)}
			if id != selfAccountID {
				acct.RoleARN = accounts.RoleARN(partition, id, org.RoleName)
				acct.ExternalID = org.ExternalID
			}
			found = append(found, acct)
		}
	}
	slices.SortFunc(found, func(a, b accounts.Account) int { return cmp.Compare(a.ID, b.ID) })
	return found, nil
}

// active prefers State: AWS retires Status in September 2026, and only
// older responses carry Status alone.
func active(a types.Account) bool {
	if a.State != "" {
		return a.State == types.AccountStateActive
	}
	return a.Status == types.AccountStatusActive
}

func listError(err error) error {
	var notInUse *types.AWSOrganizationsNotInUseException
	var denied *types.AccessDeniedException
	switch {
	case errors.As(err, &notInUse):
		return fmt.Errorf("list organization accounts: the credentials' account is not in an organization; %s: %w", discoveryNeeds, err)
	case errors.As(err, &denied):
		return fmt.Errorf("list organization accounts: access denied; %s: %w", discoveryNeeds, err)
	}
	return fmt.Errorf("list organization accounts: %w", err)
}
