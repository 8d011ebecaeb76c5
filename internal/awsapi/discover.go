package awsapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/accounts"
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
	return DiscoverPages(ctx, client, partition, org, selfAccountID, nil)
}

// DiscoverPages is Discover that also hands each page's accounts to page,
// when not nil, as soon as the page is read and checked, before the next
// page is asked for, so that the caller can start on them while the
// listing goes on (an organization of 5000 accounts takes 250 pages). page
// is not called with an empty list. A listing that fails after some pages
// has handed them over already: they are real accounts, only the list is
// incomplete.
func DiscoverPages(ctx context.Context, client Lister, partition string, org accounts.OrgConfig, selfAccountID string, page func([]accounts.Account)) ([]accounts.Account, error) {
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
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, listError(err)
		}
		// The paginator would follow a repeated token forever, or until the
		// deadline, and then report only a timeout.
		token := aws.ToString(out.NextToken)
		if token != "" && token == prevToken {
			return nil, fmt.Errorf("list organization accounts: ListAccounts returned the same NextToken twice")
		}
		prevToken = token
		first := len(found)
		for _, a := range out.Accounts {
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
		// A page with a malformed ID hands over none of its accounts.
		if page != nil && len(found) > first {
			page(slices.Clone(found[first:]))
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

// TagLister is the part of the Organizations client that reads account tags.
type TagLister interface {
	ListTagsForResource(context.Context, *organizations.ListTagsForResourceInput, ...func(*organizations.Options)) (*organizations.ListTagsForResourceOutput, error)
}

// AccountTags reads the allow-listed tags of organization accounts with
// organizations:ListTagsForResource, one account at a time, and remembers
// them, so that an account whose read fails keeps its last good tags.
type AccountTags struct {
	client TagLister
	keys   report.TagKeys
	logger *slog.Logger
	known  map[string]accountTags
	denied bool
}

type accountTags struct {
	tags   []report.Tag
	readAt time.Time
}

// NewAccountTags returns a reader of the keys of each account's tags.
func NewAccountTags(client TagLister, keys report.TagKeys, logger *slog.Logger) *AccountTags {
	return &AccountTags{client: client, keys: keys, logger: logger, known: map[string]accountTags{}}
}

// Read reads the tags of the accounts ids, least recently read first, until
// all are read, one fails, or ctx ends; the accounts left keep the tags
// read before. It returns the tags of every account in ids that has
// allowed tags, and whether every account was read. A read of thousands of
// accounts that outlasts ctx goes on at the next call where it stopped.
func (a *AccountTags) Read(ctx context.Context, ids []string) (map[string][]report.Tag, bool) {
	order := slices.Clone(ids)
	slices.SortStableFunc(order, func(x, y string) int { return a.known[x].readAt.Compare(a.known[y].readAt) })
	read := 0
	var err error
	for _, id := range order {
		var tags []report.Tag
		if tags, err = a.read(ctx, id); err != nil {
			break
		}
		a.known[id] = accountTags{tags: tags, readAt: time.Now()}
		read++
	}
	switch {
	case err == nil:
		if a.denied {
			a.logger.Info("reading account tags is permitted again")
		}
		a.denied = false
	case isAccessDenied(err):
		if !a.denied {
			a.logger.Warn("cannot read account tags; aws_iam_account_tags stays absent (allow organizations:ListTagsForResource)", "err", err)
		}
		a.denied = true
	default:
		a.logger.Warn("cannot read account tags; accounts not read keep their last good tags", "read", read, "left", len(ids)-read, "err", err)
	}
	keep := make(map[string]accountTags, len(ids))
	out := make(map[string][]report.Tag, len(ids))
	for _, id := range ids {
		if t, ok := a.known[id]; ok {
			keep[id] = t
			if len(t.tags) > 0 {
				out[id] = t.tags
			}
		}
	}
	a.known = keep
	return out, err == nil
}

func (a *AccountTags) read(ctx context.Context, id string) ([]report.Tag, error) {
	var all []report.Tag
	pages := organizations.NewListTagsForResourcePaginator(a.client, &organizations.ListTagsForResourceInput{ResourceId: aws.String(id)})
	var prevToken string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tags of account %s: %w", id, err)
		}
		token := aws.ToString(page.NextToken)
		if token != "" && token == prevToken {
			return nil, fmt.Errorf("list tags of account %s: ListTagsForResource returned the same NextToken twice", id)
		}
		prevToken = token
		for _, t := range page.Tags {
			all = append(all, report.Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
		}
	}
	return a.keys.Select(all), nil
}
