package accounts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
)

// DefaultOrgRoleName is the role Organizations creates in every account it
// creates, and so the one most organizations can assume without setup. It
// grants administrator access; a dedicated read-only role is the better
// choice where one can be rolled out.
const DefaultOrgRoleName = "OrganizationAccountAccessRole"

// OrgConfig says how to reach the accounts that Organizations discovery
// finds. The flags and the config file both produce one.
type OrgConfig struct {
	RoleName   string // assumed in each member account; may carry a path
	ExternalID string // passed with every AssumeRole; may be ""
}

// Validate checks the role name and external ID before any AWS call, so a
// typo fails at start instead of as one AssumeRole error per account.
func (o OrgConfig) Validate() error {
	if o.RoleName == "" {
		return errors.New("role name is empty")
	}
	if err := checkRolePathName(o.RoleName); err != nil {
		return err
	}
	if o.ExternalID != "" {
		if err := checkExternalID(o.ExternalID); err != nil {
			return err
		}
	}
	return nil
}

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
func Discover(ctx context.Context, client Lister, partition string, org OrgConfig, selfAccountID string) ([]Account, error) {
	if !slices.Contains(partitions, partition) {
		return nil, fmt.Errorf("discover organization accounts: unknown partition %q", partition)
	}
	if err := org.Validate(); err != nil {
		return nil, fmt.Errorf("discover organization accounts: %w", err)
	}
	var found []Account
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
			if !accountIDRE.MatchString(id) {
				return nil, fmt.Errorf("list organization accounts: ListAccounts returned account ID %q, not 12 digits", id)
			}
			acct := Account{ID: id, Name: aws.ToString(a.Name)}
			if id != selfAccountID {
				acct.RoleARN = RoleARN(partition, id, org.RoleName)
				acct.ExternalID = org.ExternalID
			}
			found = append(found, acct)
		}
	}
	slices.SortFunc(found, func(a, b Account) int { return cmp.Compare(a.ID, b.ID) })
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
