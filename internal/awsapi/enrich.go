package awsapi

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// enrichment is what a source remembers of its lookups between refreshes:
// the last good data, served again when a lookup fails, and each lookup's
// status.
type enrichment struct {
	userTags   lookup
	tagsByUser map[string][]report.Tag
	exemptions userExemptions
	// userPageSize is the MaxItems of the user listing's pages: IAM's
	// maximum, halved for good after a page too large for the response
	// size limit.
	userPageSize int32

	keyIDs     lookup
	keysByUser map[string]keyEntry
	limiter    *rate.Limiter

	passwordPolicy lookup
	policy         *report.PasswordPolicy

	callerState
}

// lookup is the status of one enrichment call.
type lookup struct {
	name        report.Lookup
	ok          bool
	lastAttempt time.Time
	lastSuccess time.Time
	// retry asks for another attempt at the next refresh rather than after
	// the lookup's interval: the last one failed for a reason other than a
	// denied permission, which is retried only on the interval.
	retry bool
	// denied is set once a denial has been logged, so that a missing
	// permission is logged once rather than on every refresh.
	denied bool
	// dropped counts, since the source was made, the items of AWS's
	// answers dropped because they contradict the request; warned is set
	// once one has been logged as a warning.
	dropped uint64
	warned  bool
}

func (s *ReportSource) initEnrichment() {
	s.userTags.name = report.LookupUserTags
	s.keyIDs.name = report.LookupAccessKeyIDs
	s.passwordPolicy.name = report.LookupPasswordPolicy
	s.keyCallers.name = report.LookupKeyCallers
	s.opts.Callers = s.opts.Callers.withDefaults()
	s.trailLimiters = map[string]*rate.Limiter{}
	if s.opts.AccessKeyIDs {
		s.limiter = spreadLimiter(s.opts.AccessKeyIDsRate)
	}
}

// spreadLimiter allows perSecond calls a second with a burst of one: the
// calls are spread evenly, as AWS's quotas (shared with everything else
// in the account) expect.
func spreadLimiter(perSecond float64) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(perSecond), 1)
}

// enrich runs the lookups the options ask for and attaches their data to
// rep, which is not published yet. A failed lookup never fails the refresh:
// the report is served with the last good data of that lookup.
func (s *ReportSource) enrich(ctx context.Context, rep *report.Report) {
	if len(s.opts.UserTags) > 0 || s.opts.Exemptions {
		if s.userTags.due(s.opts.UserTagsInterval) {
			tags, exemptions, err := s.readUserTags(ctx)
			if s.done(&s.userTags, err, "the user tags", "aws_iam_user_tags") {
				s.tagsByUser, s.exemptions = tags, exemptions
				for _, bad := range exemptions.invalid {
					s.logger.Warn("malformed exemption tag; it exempts nothing", "user", bad.User, "tag", bad.Key, "problem", bad.Message)
				}
			}
		}
		rep.UserTags = s.tagsByUser
		rep.Exemptions, rep.InvalidExemptions = s.exemptions.valid, s.exemptions.invalid
		rep.Lookups = append(rep.Lookups, s.userTags.status())
	}
	if s.opts.AccessKeyIDs {
		s.done(&s.keyIDs, s.lookUpKeyIDs(ctx, rep), "the access key IDs", "aws_iam_access_key_info")
		rep.Lookups = append(rep.Lookups, s.keyIDs.status())
	}
	if s.opts.KeyCallers {
		missing, err := s.lookUpKeyCallers(ctx, rep)
		s.done(&s.keyCallers, err, "the callers of some keys of open rotations", "aws_iam_access_key_caller_*")
		st := s.keyCallers.status()
		st.Missing = missing
		rep.Lookups = append(rep.Lookups, st)
	}
	if s.opts.PasswordPolicy {
		policy, err := s.readPasswordPolicy(ctx)
		if s.done(&s.passwordPolicy, err, "the password policy", "aws_iam_account_password_policy_*") {
			s.policy = policy
		}
		rep.PasswordPolicy = s.policy
		rep.Lookups = append(rep.Lookups, s.passwordPolicy.status())
	}
}

// due reports whether a lookup read on interval should be made now.
func (l *lookup) due(interval time.Duration) bool {
	return l.lastAttempt.IsZero() || l.retry || time.Since(l.lastAttempt) >= interval
}

func (l *lookup) status() report.LookupStatus {
	return report.LookupStatus{Lookup: l.name, OK: l.ok, LastSuccess: l.lastSuccess, Dropped: l.dropped}
}

// done records the outcome of a lookup of what, and logs a failure: a
// denied permission once, at warning level, naming the action to allow;
// any other failure on every attempt. It reports whether the lookup
// succeeded, so that its data replaces the last good one.
func (s *ReportSource) done(l *lookup, err error, what, metrics string) bool {
	if errors.Is(err, context.Canceled) {
		// The exporter is stopping: not an outcome worth recording.
		return false
	}
	now := time.Now()
	l.lastAttempt = now
	l.ok = err == nil
	l.retry = false
	if err == nil {
		if l.denied {
			s.logger.Info("reading "+what+" is permitted again", "lookup", l.name)
		}
		l.denied = false
		l.lastSuccess = now
		return true
	}
	if isAccessDenied(err) {
		if !l.denied {
			s.logger.Warn("cannot read "+what+"; "+metrics+" stays absent, the credential report is unaffected",
				"lookup", l.name, "err", s.accessDenied(err))
		}
		l.denied = true
		return false
	}
	l.retry = true
	s.logger.Warn("cannot read "+what+"; serving the last good data, read again at the next refresh",
		"lookup", l.name, "last_success", l.lastSuccess, "err", err)
	return false
}

// isAccessDenied reports whether err is a denied permission: AccessDenied
// in the Query protocol of IAM and STS, AccessDeniedException in the JSON
// one of Organizations.
func isAccessDenied(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	code := apiErr.ErrorCode()
	return code == "AccessDenied" || code == "AccessDeniedException"
}

// userExemptions are the exemption tags of an account's users.
type userExemptions struct {
	valid   map[string][]report.Exemption
	invalid []report.InvalidExemption
}

// The pages of the user listing (GetAccountAuthorizationDetails).
const (
	// maxUserPageSize is IAM's largest MaxItems, asked for first.
	maxUserPageSize = 1000
	// minUserPageSize is the smallest MaxItems asked for after pages too
	// large for the response size limit: IAM's default MaxItems. A user's
	// details hold at most 50 tags (about 20 KB, 60 KB in multi-byte
	// letters), 2,048 characters of inline policy (a few KB URL-encoded),
	// 10 groups and 20 attached policies: 100 users fit in less than 8 MB,
	// below the default --report.max-bytes of 16 MiB.
	minUserPageSize = 100
)

// maxUserPages is how many pages a listing of at most maxUsers users may
// take at pageSize users a page: twice what full pages need, since IAM may
// return fewer items than asked, and a few more for small listings. A
// listing that goes on past it is an endpoint that never ends, and would
// otherwise be followed until the refresh's deadline.
func maxUserPages(maxUsers int, pageSize int32) int {
	size := int(pageSize)
	return 2*((maxUsers+size-1)/size) + 5
}

// readUserTags lists the users with their tags, 1,000 a page (IAM's
// maximum; it may return fewer while IsTruncated), and keeps the allowed
// ones and, when asked for, the exemptions. The listing stops at the
// report's user limit, so that memory stays bounded as the report's does.
//
// It follows the markers itself rather than through the SDK's paginator,
// which cannot ask for fewer items in the middle of a listing and, on a
// repeated marker, either loops or (with StopOnDuplicateToken) ends as if
// the listing were whole. A listing fails, and the last good tags stay,
// when a marker comes back (a cycle, such as A, B, A, B), or when it takes
// more pages than maxUserPages. A page larger than the response size limit
// is asked for again from the same marker with half the MaxItems, down to
// minUserPageSize; later listings keep the smaller size.
func (s *ReportSource) readUserTags(ctx context.Context) (map[string][]report.Tag, userExemptions, error) {
	tags := map[string][]report.Tag{}
	var ex userExemptions
	if s.opts.Exemptions {
		ex.valid = map[string][]report.Exemption{}
	}
	limit := cmp.Or(s.opts.Limits.MaxUsers, report.DefaultMaxUsers)
	if s.userPageSize == 0 {
		s.userPageSize = maxUserPageSize
	}
	var (
		marker *string
		// Hashes, not the markers: a hostile endpoint's markers can be
		// as large as a response.
		seen         = map[[sha256.Size]byte]bool{}
		pages, users int
	)
	for {
		page, err := s.client.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{
			Filter:   []types.EntityType{types.EntityTypeUser},
			MaxItems: aws.Int32(s.userPageSize),
			Marker:   marker,
		})
		if errors.Is(err, ErrResponseTooLarge) {
			if s.userPageSize <= minUserPageSize {
				return nil, ex, fmt.Errorf("GetAccountAuthorizationDetails: a page of %d users is larger than the response size limit; raise --report.max-bytes: %w", s.userPageSize, err)
			}
			smaller := max(s.userPageSize/2, minUserPageSize)
			s.logger.Info("a page of the user listing is larger than the response size limit; asking for fewer users a page",
				"lookup", s.userTags.name, "max_items", smaller, "previous_max_items", s.userPageSize)
			s.userPageSize = smaller
			continue
		}
		if err != nil {
			return nil, ex, err
		}
		pages++
		users += len(page.UserDetailList)
		if users > limit {
			return nil, ex, fmt.Errorf("GetAccountAuthorizationDetails lists more than %d users (--report.max-users)", limit)
		}
		for _, u := range page.UserDetailList {
			name := aws.ToString(u.UserName)
			all := make([]report.Tag, len(u.Tags))
			for i, t := range u.Tags {
				all[i] = report.Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)}
			}
			if sel := s.opts.UserTags.Select(all); len(sel) > 0 {
				tags[name] = sel
			}
			if s.opts.Exemptions {
				ex.add(name, all, cmp.Or(s.opts.ExemptionMaxDays, report.DefaultExemptionMaxDays))
			}
		}
		// As the SDK's paginators do, the marker says whether more pages
		// follow; a page that says it was cut short without one would end
		// the listing early, and the users left out would lose their tags.
		next := aws.ToString(page.Marker)
		if next == "" {
			if page.IsTruncated {
				return nil, userExemptions{}, fmt.Errorf("GetAccountAuthorizationDetails page %d is truncated but has no Marker", pages)
			}
			return tags, ex, nil
		}
		h := sha256.Sum256([]byte(next))
		if seen[h] {
			return nil, ex, fmt.Errorf("GetAccountAuthorizationDetails returned on page %d a Marker it had returned before: the listing would never end", pages)
		}
		seen[h] = true
		if n := maxUserPages(limit, s.userPageSize); pages >= n {
			return nil, ex, fmt.Errorf("GetAccountAuthorizationDetails has more pages after %d (%d users so far), more than a listing of at most %d users (--report.max-users) takes at %d a page",
				pages, users, limit, s.userPageSize)
		}
		marker = &next
	}
}

func (ex *userExemptions) add(user string, tags []report.Tag, maxDays int) {
	if len(ex.valid[user]) > 0 {
		// A user listed twice (a broken endpoint repeating a page) would
		// export its exemptions twice: the first listing stands.
		return
	}
	type tagged struct {
		key string
		e   report.Exemption
	}
	var found []tagged
	for _, t := range tags {
		e, ok, err := report.ParseExemption(t.Key, t.Value, maxDays)
		switch {
		case !ok:
		case err != nil:
			ex.invalid = append(ex.invalid, report.InvalidExemption{User: user, Key: t.Key, Problem: report.ProblemOf(err), Message: err.Error()})
		default:
			found = append(found, tagged{t.Key, e})
		}
	}
	// Keys are read lower-cased, so two tags (from an endpoint that breaks
	// IAM's rule of one key per case, or from a user) can name one policy.
	// Both exported would be a duplicate series, which fails every scrape of
	// the account; one exempting for longer than the other would be a
	// guess. The one that ends first is kept; on a tie, the first key in
	// byte order, so that the choice does not depend on the order of the
	// tags.
	kept := map[string]int{} // policy → index in found
	for i, t := range found {
		k, ok := kept[t.e.Policy]
		if !ok || t.e.End.Before(found[k].e.End) || t.e.End.Equal(found[k].e.End) && t.key < found[k].key {
			kept[t.e.Policy] = i
		}
	}
	for i, t := range found {
		k := kept[t.e.Policy]
		if i == k {
			ex.valid[user] = append(ex.valid[user], t.e)
			continue
		}
		ex.invalid = append(ex.invalid, report.InvalidExemption{User: user, Key: t.key, Problem: report.ProblemDuplicate,
			Message: fmt.Sprintf("tag %s also exempts from policy %s, until %s: one exemption per user and policy, the one that ends first is kept",
				found[k].key, t.e.Policy, found[k].e.End.AddDate(0, 0, -1).Format(time.DateOnly))})
	}
}

// keyEntry is what ListAccessKeys said about a user's keys, valid while the
// report's last_rotated of both slots stay the same.
type keyEntry struct {
	rotated [2]int64 // Unix seconds of each slot's last_rotated; 0 when empty
	ids     [2]string
}

// rotatedOf returns when the user's key slots were last rotated.
func rotatedOf(u *report.User) [2]int64 {
	var r [2]int64
	for i := range u.AccessKeys {
		if t := u.AccessKeys[i].LastRotated; t.Status == report.Present {
			r[i] = t.Unix
		}
	}
	return r
}

// lookUpKeyIDs names the keys of rep's users. A slot's key changes only
// when its last_rotated does, so ListAccessKeys is called only for users
// whose slots changed since their last lookup, and for new users: in the
// steady state, no call at all. Calls are spread at the configured rate,
// and stop when the refresh's deadline would pass; the users left are
// looked up at the next refresh. An error stops the lookups for this
// refresh.
//
// A key that the answer gives to another user than the one asked (a broken
// or hostile endpoint) is dropped and counted, and its user looked up again
// at the next refresh: exported, it would name the wrong user's key.
func (s *ReportSource) lookUpKeyIDs(ctx context.Context, rep *report.Report) error {
	next := make(map[string]keyEntry, len(s.keysByUser))
	rep.AccessKeyIDs = map[string][2]string{}
	setKeyIDs := func(name string, e keyEntry) {
		if e.ids != [2]string{} {
			rep.AccessKeyIDs[name] = e.ids
		}
	}
	var pending []*report.User
	for i := range rep.Users {
		u := &rep.Users[i]
		want := rotatedOf(u)
		if u.Root || want == [2]int64{} {
			// Root's keys cannot be listed through a role.
			continue
		}
		if e, ok := s.keysByUser[u.Name]; ok && e.rotated == want {
			next[u.Name] = e
			setKeyIDs(u.Name, e)
			continue
		}
		pending = append(pending, u)
	}
	defer func() { s.keysByUser = next }()
	for n, u := range pending {
		if err := s.limiter.Wait(ctx); err != nil {
			// The deadline is near: not a failure of the lookup.
			s.logger.Info("looking the access key IDs up takes more than one refresh; the rest come at the next ones",
				"looked_up", n, "left", len(pending)-n)
			return nil
		}
		out, err := s.client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u.Name)})
		var gone *types.NoSuchEntityException
		switch {
		case errors.As(err, &gone):
			// Deleted since the report was generated.
			out = &iam.ListAccessKeysOutput{}
		case err != nil:
			return err
		}
		keys, foreign := s.ownKeys(ctx, u.Name, out.AccessKeyMetadata)
		e := keyEntry{rotated: rotatedOf(u)}
		var unmatched int
		e.ids, unmatched = matchKeys(e.rotated, keys)
		if unmatched > 0 && !foreign {
			s.logger.Debug("access keys not matched to the report's slots; their IDs stay unknown until the report changes",
				"user", u.Name, "unmatched", unmatched)
		}
		if !foreign {
			next[u.Name] = e
		}
		setKeyIDs(u.Name, e)
	}
	return nil
}

// maxUserNameBytes is IAM's limit on the length of a user name.
const maxUserNameBytes = 64

// ownKeys returns the keys of the answer to ListAccessKeys for user, and
// whether it held keys of another user, which it drops, counts and logs: a
// warning the first time, since it means that the endpoint cannot be
// trusted; then at debug level. IAM does not tell user names apart by case.
func (s *ReportSource) ownKeys(ctx context.Context, user string, keys []types.AccessKeyMetadata) (own []types.AccessKeyMetadata, foreign bool) {
	for _, k := range keys {
		returned := aws.ToString(k.UserName)
		if strings.EqualFold(returned, user) {
			own = append(own, k)
			continue
		}
		foreign = true
		s.keyIDs.dropped++
		if len(returned) > maxUserNameBytes {
			// Not a name IAM could hold: the log gets its start only.
			returned = returned[:maxUserNameBytes] + "..."
		}
		level := slog.LevelDebug
		if !s.keyIDs.warned {
			s.keyIDs.warned = true
			level = slog.LevelWarn
		}
		s.logger.Log(ctx, level, "ListAccessKeys answered with an access key of another user; the key is dropped, counted in iam_credential_exporter_lookup_dropped_items_total, and the user looked up again at the next refresh",
			"lookup", s.keyIDs.name, "user", user, "returned_user", returned)
	}
	return own, foreign
}

// matchKeys gives each slot the key created in the second of its
// last_rotated (the report keeps seconds, ListAccessKeys more). A slot
// stays unnamed, and counts as unmatched, when no key or two keys were
// created in that second: the key was replaced or deleted after the report
// was generated, or two keys were created in the same second and cannot be
// told apart.
func matchKeys(rotated [2]int64, keys []types.AccessKeyMetadata) (ids [2]string, unmatched int) {
	for slot, want := range rotated {
		if want == 0 {
			continue
		}
		found := 0
		for _, k := range keys {
			if k.CreateDate != nil && k.CreateDate.Unix() == want {
				ids[slot] = aws.ToString(k.AccessKeyId)
				found++
			}
		}
		if found != 1 {
			ids[slot] = ""
			unmatched++
		}
	}
	return ids, unmatched
}

// readPasswordPolicy reads the account password policy. NoSuchEntity is
// an answer, not an error: the account has no policy.
func (s *ReportSource) readPasswordPolicy(ctx context.Context) (*report.PasswordPolicy, error) {
	out, err := s.client.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	var none *types.NoSuchEntityException
	if errors.As(err, &none) {
		return &report.PasswordPolicy{}, nil
	}
	if err != nil {
		return nil, err
	}
	p := out.PasswordPolicy
	if p == nil {
		return nil, errors.New("GetAccountPasswordPolicy answered without a PasswordPolicy")
	}
	policy := &report.PasswordPolicy{
		Exists:                     true,
		MinimumLength:              int(aws.ToInt32(p.MinimumPasswordLength)),
		RequireSymbols:             p.RequireSymbols,
		RequireNumbers:             p.RequireNumbers,
		RequireUppercase:           p.RequireUppercaseCharacters,
		RequireLowercase:           p.RequireLowercaseCharacters,
		AllowUsersToChangePassword: p.AllowUsersToChangePassword,
		ExpirePasswords:            p.ExpirePasswords,
		ReusePrevention:            int(aws.ToInt32(p.PasswordReusePrevention)),
		HardExpiry:                 aws.ToBool(p.HardExpiry),
	}
	if p.ExpirePasswords {
		policy.MaxAge = time.Duration(aws.ToInt32(p.MaxPasswordAge)) * 24 * time.Hour
	}
	return policy, nil
}
