package awsapi_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/awsapi"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/fakeaws"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// fakeUsers returns n users; every tagged-th has an owner tag and every
// keyed-th an access key, created a second apart.
func fakeUsers(n, tagged, keyed int) []fakeaws.User {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	users := make([]fakeaws.User, n)
	for i := range users {
		u := fakeaws.User{Name: fmt.Sprintf("user-%05d", i), Tags: []fakeaws.Tag{{Key: "Name", Value: "x"}}}
		if tagged > 0 && i%tagged == 0 {
			u.Tags = append(u.Tags, fakeaws.Tag{Key: "owner", Value: fmt.Sprintf("team-%d", i%7)})
		}
		if keyed > 0 && i%keyed == 0 {
			u.AccessKeys = []fakeaws.AccessKey{{ID: fmt.Sprintf("AKIAFAKE%012d", i), Created: base.Add(time.Duration(i) * time.Second), Active: true}}
		}
		users[i] = u
	}
	return users
}

func mustFetch(t *testing.T, src *awsapi.ReportSource, step string) *report.Report {
	t.Helper()
	rep, err := src.Fetch(t.Context())
	if err != nil {
		t.Fatalf("%s: Fetch: %v", step, err)
	}
	return rep
}

func lookupOf(rep *report.Report, l report.Lookup) report.LookupStatus {
	for _, s := range rep.Lookups {
		if s.Lookup == l {
			return s
		}
	}
	return report.LookupStatus{}
}

// ownerTags maps each user with tags to its tags, as "key=value" strings.
func ownerTags(rep *report.Report) map[string]string {
	out := map[string]string{}
	for name, tags := range rep.UserTags {
		out[name] = fmt.Sprint(tags)
	}
	return out
}

// IAM may return fewer users than MaxItems asks for while IsTruncated is
// true: every page must be followed.
func TestUserTagsFollowEveryPage(t *testing.T) {
	users := fakeUsers(7, 2, 0)
	f := withUsers(t, users)
	f.users = listUsers(users, 2, 0)
	src, _ := funcSource(f, awsapi.SourceOptions{UserTags: report.TagKeys{"owner"}, UserTagsInterval: time.Hour})
	rep := mustFetch(t, src, "fetch")
	want := map[string]string{}
	for _, u := range users {
		for _, tag := range u.Tags {
			if tag.Key == "owner" {
				want[u.Name] = fmt.Sprint([]report.Tag{{Key: "owner", Value: tag.Value}})
			}
		}
	}
	if got := ownerTags(rep); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tags = %v, want %v", got, want)
	}
	if got := f.calls["GetAccountAuthorizationDetails"]; got != 4 {
		t.Errorf("%d GetAccountAuthorizationDetails calls for 7 users in pages of 2, want 4", got)
	}
	// Read again only after the interval.
	mustFetch(t, src, "second fetch")
	if got := f.calls["GetAccountAuthorizationDetails"]; got != 4 {
		t.Errorf("a second fetch within the interval read the tags again (%d calls)", got)
	}
}

// A listing that fails (here throttled beyond the SDK's retries, which
// TestReportSourceFetch covers over the wire) keeps the last good tags, the
// lookup shows the failure, and the next refresh tries again without
// waiting for the interval. In a synctest bubble, the interval passes at
// once.
func TestUserTagsThrottled(t *testing.T) {
	today := time.Now()
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(today))
		f := withUsers(t, fakeUsers(5, 1, 0))
		src, logs := funcSource(f, awsapi.SourceOptions{UserTags: report.TagKeys{"owner"}, UserTagsInterval: time.Hour})
		rep := mustFetch(t, src, "good")
		good := ownerTags(rep)
		lastSuccess := lookupOf(rep, report.LookupUserTags).LastSuccess
		if len(good) != 5 || !lookupOf(rep, report.LookupUserTags).OK {
			t.Fatalf("%d users with tags, lookup %+v; want 5, OK", len(good), lookupOf(rep, report.LookupUserTags))
		}

		time.Sleep(time.Hour)
		f.users = func(*iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error) {
			return nil, awsCode("GetAccountAuthorizationDetails", "Throttling")
		}
		rep = mustFetch(t, src, "throttled")
		if got := ownerTags(rep); fmt.Sprint(got) != fmt.Sprint(good) {
			t.Errorf("throttled: tags = %v, want the last good %v", got, good)
		}
		if l := lookupOf(rep, report.LookupUserTags); l.OK || !l.LastSuccess.Equal(lastSuccess) {
			t.Errorf("throttled: lookup = %+v, want failed with the last success %v", l, lastSuccess)
		}
		if !strings.Contains(logs.String(), "cannot read the user tags; serving the last good data") {
			t.Errorf("no warning logged:\n%s", logs)
		}

		f.setUsers(fakeUsers(5, 5, 0)) // only user-00000 keeps an owner
		rep = mustFetch(t, src, "recovered")
		if got := ownerTags(rep); len(got) != 1 || !lookupOf(rep, report.LookupUserTags).OK {
			t.Errorf("the refresh after the failure: tags = %v, lookup %+v; want one user, OK", got, lookupOf(rep, report.LookupUserTags))
		}
	})
}

// A denied lookup is logged once, names the action to allow, and leaves the
// report and the other lookups working.
func TestEnrichmentAccessDenied(t *testing.T) {
	for _, tc := range []struct {
		action string
		lookup report.Lookup
	}{
		{"GetAccountAuthorizationDetails", report.LookupUserTags},
		{"ListAccessKeys", report.LookupAccessKeyIDs},
		{"GetAccountPasswordPolicy", report.LookupPasswordPolicy},
	} {
		t.Run(tc.action, func(t *testing.T) {
			users := fakeUsers(3, 1, 1)
			f := &iamFuncs{t: t, generate: complete}
			policy := func() (*iam.GetAccountPasswordPolicyOutput, error) {
				return &iam.GetAccountPasswordPolicyOutput{PasswordPolicy: &types.PasswordPolicy{MinimumPasswordLength: aws.Int32(14)}}, nil
			}
			permit := func() { f.setUsers(users); f.policy = policy }
			deny := func() {
				denied := awsCode(tc.action, "AccessDenied")
				switch tc.lookup {
				case report.LookupUserTags:
					f.users = func(*iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error) {
						return nil, denied
					}
				case report.LookupAccessKeyIDs:
					f.keys = func(*iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error) { return nil, denied }
				case report.LookupPasswordPolicy:
					f.policy = func() (*iam.GetAccountPasswordPolicyOutput, error) { return nil, denied }
				}
			}
			src, logs := funcSource(f, awsapi.SourceOptions{
				UserTags: report.TagKeys{"owner"}, UserTagsInterval: time.Nanosecond,
				AccessKeyIDs: true, PasswordPolicy: true,
			})
			var rep *report.Report
			for i := range 3 {
				// New keys make every fetch look the keys up again.
				for j := range users {
					users[j].AccessKeys[0].Created = users[j].AccessKeys[0].Created.Add(time.Hour)
				}
				permit()
				deny()
				rep = mustFetch(t, src, fmt.Sprint("fetch ", i))
				if len(rep.Users) != 4 {
					t.Fatalf("fetch %d: %d rows, want the report's 4", i, len(rep.Users))
				}
			}
			for _, l := range rep.Lookups {
				if got, want := l.OK, l.Lookup != tc.lookup; got != want {
					t.Errorf("lookup %s OK = %v, want %v", l.Lookup, got, want)
				}
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
				t.Errorf("%d warnings in 3 denied fetches, want 1:\n%s", n, logs)
			}
			if want := "the credentials lack iam:" + tc.action; !strings.Contains(logs.String(), want) {
				t.Errorf("the warning does not say %q:\n%s", want, logs)
			}
			user := rep.Users[1].Name
			got := fmt.Sprintf("tags %t, key ID %t, policy %t", rep.UserTags[user] != nil, rep.AccessKeyIDs[user][0] != "", rep.PasswordPolicy != nil)
			want := map[report.Lookup]string{
				report.LookupUserTags:       "tags false, key ID true, policy true",
				report.LookupAccessKeyIDs:   "tags true, key ID false, policy true",
				report.LookupPasswordPolicy: "tags true, key ID true, policy false",
			}[tc.lookup]
			if got != want {
				t.Errorf("%s denied: %s; want %s", tc.action, got, want)
			}
			// Permitted again: logged, and the data comes back.
			permit()
			rep = mustFetch(t, src, "permitted")
			if l := lookupOf(rep, tc.lookup); !l.OK {
				t.Errorf("after the permission is granted: lookup %+v", l)
			}
			if !strings.Contains(logs.String(), "is permitted again") {
				t.Errorf("no log line says the permission is back:\n%s", logs)
			}
		})
	}
}

// TestEnrichmentCallCounts measures the AWS calls per refresh of each option,
// as docs/owners.md states them: U users, K with keys. Each refresh also
// makes the report's two calls.
func TestEnrichmentCallCounts(t *testing.T) {
	const users, keyed = 3000, 1000 // every third user has a key
	all := awsapi.SourceOptions{
		UserTags: report.TagKeys{"owner"}, UserTagsInterval: time.Hour,
		AccessKeyIDs: true, PasswordPolicy: true,
	}
	for _, tc := range []struct {
		name        string
		opts        awsapi.SourceOptions
		first, next map[string]int
	}{
		{"none", awsapi.SourceOptions{}, nil, nil},
		{"user tags", awsapi.SourceOptions{UserTags: all.UserTags, UserTagsInterval: time.Hour},
			map[string]int{"GetAccountAuthorizationDetails": 3}, nil},
		{"access key IDs", awsapi.SourceOptions{AccessKeyIDs: true},
			map[string]int{"ListAccessKeys": keyed}, nil},
		{"password policy", awsapi.SourceOptions{PasswordPolicy: true},
			map[string]int{"GetAccountPasswordPolicy": 1}, map[string]int{"GetAccountPasswordPolicy": 1}},
		{"all", all,
			map[string]int{"GetAccountAuthorizationDetails": 3, "ListAccessKeys": keyed, "GetAccountPasswordPolicy": 1},
			map[string]int{"GetAccountPasswordPolicy": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := withUsers(t, fakeUsers(users, 3, users/keyed))
			f.policy = func() (*iam.GetAccountPasswordPolicyOutput, error) {
				return nil, awsError("GetAccountPasswordPolicy", &types.NoSuchEntityException{})
			}
			src, _ := funcSource(f, tc.opts)
			withReportCalls := func(m map[string]int) string {
				m = maps.Clone(m)
				if m == nil {
					m = map[string]int{}
				}
				m["GenerateCredentialReport"], m["GetCredentialReport"] = 1, 1
				return fmt.Sprint(m)
			}
			rep := mustFetch(t, src, "first")
			if got, want := fmt.Sprint(f.calls), withReportCalls(tc.first); got != want {
				t.Errorf("first refresh: calls %v, want %v", got, want)
			}
			ids := 0
			for _, u := range rep.Users {
				if rep.AccessKeyIDs[u.Name][0] != "" {
					ids++
				}
			}
			if tc.opts.AccessKeyIDs && ids != keyed {
				t.Errorf("%d key IDs, want %d", ids, keyed)
			}
			for i := range 3 {
				f.calls = nil
				mustFetch(t, src, fmt.Sprint("steady ", i))
				if got, want := fmt.Sprint(f.calls), withReportCalls(tc.next); got != want {
					t.Errorf("steady refresh %d: calls %v, want %v", i, got, want)
				}
			}
			// A rotated key costs one lookup, of its user.
			if tc.opts.AccessKeyIDs {
				rotated := fakeUsers(users, 3, users/keyed)
				rotated[0].AccessKeys[0] = fakeaws.AccessKey{ID: "AKIAFAKEROTATED00000", Created: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Active: true}
				f.setUsers(rotated)
				f.calls = nil
				rep := mustFetch(t, src, "after rotation")
				if got := f.calls["ListAccessKeys"]; got != 1 {
					t.Errorf("after one rotation: %d ListAccessKeys calls, want 1", got)
				}
				if got := rep.AccessKeyIDs[rep.Users[1].Name][0]; got != "AKIAFAKEROTATED00000" {
					t.Errorf("rotated key ID = %q", got)
				}
			}
		})
	}
}

// Key lookups stop when the rate would outlast the refresh, and the users
// left are looked up at the next refresh, not those already done.
func TestAccessKeyIDsCarryOver(t *testing.T) {
	f := withUsers(t, fakeUsers(3, 0, 1))
	src, _ := funcSource(f, awsapi.SourceOptions{AccessKeyIDs: true, AccessKeyIDsRate: 1e-6})
	// Refreshes always have a deadline (--report.timeout): the wait for the
	// second call would outlast it.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rep, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	named := func(rep *report.Report) int {
		n := 0
		for _, u := range rep.Users {
			if rep.AccessKeyIDs[u.Name][0] != "" {
				n++
			}
		}
		return n
	}
	if got := named(rep); got != 1 || !lookupOf(rep, report.LookupAccessKeyIDs).OK {
		t.Errorf("starved: %d keys named, lookup %+v; want 1 (the burst), OK", got, lookupOf(rep, report.LookupAccessKeyIDs))
	}
	awsapi.SetKeyIDRate(src, 1e6)
	f.calls = nil
	rep = mustFetch(t, src, "free")
	if got := named(rep); got != 3 {
		t.Errorf("next refresh: %d keys named, want 3", got)
	}
	if got := f.calls["ListAccessKeys"]; got != 2 {
		t.Errorf("next refresh: %d ListAccessKeys calls, want the 2 users left", got)
	}
}

// A slot gets no ID when no key, or more than one, was created in the
// second of its last_rotated, or when the user is gone; the user is looked
// up again only when the report changes.
func TestAccessKeyIDsUnmatched(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reported := []fakeaws.User{
		{Name: "replaced", AccessKeys: []fakeaws.AccessKey{{ID: "AKIAOLD0000000000000", Created: created, Active: true}}},
		{Name: "twins", AccessKeys: []fakeaws.AccessKey{
			{ID: "AKIATWIN000000000001", Created: created.Add(100 * time.Millisecond), Active: true},
			{ID: "AKIATWIN000000000002", Created: created.Add(900 * time.Millisecond), Active: true},
		}},
	}
	// Since the report was generated, "replaced" got a new key and "gone"
	// was deleted.
	live := slices.Clone(reported)
	live[0] = fakeaws.User{Name: "replaced", AccessKeys: []fakeaws.AccessKey{{ID: "AKIANEW0000000000000", Created: created.Add(time.Hour), Active: true}}}
	reported = append(reported, fakeaws.User{Name: "gone", AccessKeys: []fakeaws.AccessKey{{ID: "AKIAGONE000000000000", Created: created, Active: true}}})
	f := withReport(t, fakeaws.ReportCSV(baseAccount, created, reported))
	f.keys = listKeys(live)
	src, _ := funcSource(f, awsapi.SourceOptions{AccessKeyIDs: true})

	for i := range 2 {
		rep := mustFetch(t, src, fmt.Sprint("fetch ", i))
		if len(rep.AccessKeyIDs) != 0 || !lookupOf(rep, report.LookupAccessKeyIDs).OK {
			t.Errorf("fetch %d: key IDs %v, lookup %+v; no key can be matched, and that is no failure", i, rep.AccessKeyIDs, lookupOf(rep, report.LookupAccessKeyIDs))
		}
	}
	if got := f.calls["ListAccessKeys"]; got != 3 {
		t.Errorf("%d ListAccessKeys calls in 2 fetches, want 3: unmatched users are not looked up again until the report changes", got)
	}
	// The next report shows the new key.
	f.setReport(fakeaws.ReportCSV(baseAccount, created, live))
	rep := mustFetch(t, src, "new report")
	if got := rep.AccessKeyIDs[rep.Users[1].Name][0]; rep.Users[1].Name != "replaced" || got != "AKIANEW0000000000000" {
		t.Errorf("after the report caught up: %s key 1 = %q, want AKIANEW0000000000000", rep.Users[1].Name, got)
	}
}

// Exemptions are read with the user tags' call, even without an allowlist;
// a malformed one (the old one-date form, a span over the cap, an unknown
// policy) is kept apart with its problem, and logged, never honoured.
func TestExemptions(t *testing.T) {
	f := &iamFuncs{t: t, generate: complete}
	src, logs := funcSource(f, awsapi.SourceOptions{Exemptions: true, ExemptionMaxDays: 30, UserTagsInterval: time.Hour})
	start := time.Now().UTC().AddDate(0, 0, 7)
	first, last := start.Format(time.DateOnly), start.AddDate(0, 0, 29).Format(time.DateOnly)
	f.setUsers([]fakeaws.User{
		{Name: "vendor-appliance", Tags: []fakeaws.Tag{
			{Key: "iam-credential-exemption:key-rotation", Value: first + "/" + last + " SEC-1234 appliance cannot rotate"},
			{Key: "owner", Value: "team-a"},
		}},
		{Name: "break-glass", Tags: []fakeaws.Tag{{Key: "iam-credential-exemption:mfa", Value: first + "/" + last + " kept offline"}}},
		{Name: "old-form", Tags: []fakeaws.Tag{{Key: "iam-credential-exemption:key-unused", Value: last + " kept offline"}}},
		{Name: "too-long", Tags: []fakeaws.Tag{{Key: "iam-credential-exemption:key-unused", Value: first + "/" + start.AddDate(0, 0, 30).Format(time.DateOnly) + " kept offline"}}},
		{Name: "plain"},
	})
	rep := mustFetch(t, src, "fetch")
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	want := []report.Exemption{{Policy: "key-rotation", Start: day(start), End: day(start).AddDate(0, 0, 30), Reason: "SEC-1234 appliance cannot rotate", Source: "tag"}}
	if got := rep.Exemptions["vendor-appliance"]; !slices.Equal(got, want) || len(rep.Exemptions) != 1 {
		t.Errorf("exemptions = %v, want vendor-appliance's %v", rep.Exemptions, want)
	}
	invalid := map[string]report.ExemptionProblem{}
	for _, bad := range rep.InvalidExemptions {
		invalid[bad.User] = bad.Problem
	}
	wantInvalid := map[string]report.ExemptionProblem{"break-glass": "unknown_policy", "old-form": "bad_dates", "too-long": "span_too_long"}
	if !maps.Equal(invalid, wantInvalid) {
		t.Errorf("invalid exemptions = %+v, want %v", rep.InvalidExemptions, wantInvalid)
	}
	if len(rep.UserTags) != 0 {
		t.Errorf("user tags without an allowlist: %v", rep.UserTags)
	}
	if !strings.Contains(logs.String(), "malformed exemption tag") || !strings.Contains(logs.String(), `user=break-glass tag=iam-credential-exemption:mfa problem="unknown policy \"mfa\"`) ||
		!strings.Contains(logs.String(), "the old form") {
		t.Errorf("the malformed exemption is not logged with its user:\n%s", logs)
	}
	if strings.Contains(logs.String(), "kept offline") {
		t.Errorf("the tag's value reached the log:\n%s", logs)
	}
}

// Two tags of one user that name one policy, their keys differing only in
// case, are one exemption: the one that ends first. The others are invalid
// (duplicate), so that the report never holds two exemptions of one user,
// policy and source: exported, they were a duplicate series, an error at
// every scrape.
func TestDuplicateExemptionTags(t *testing.T) {
	f := &iamFuncs{t: t, generate: complete}
	src, logs := funcSource(f, awsapi.SourceOptions{Exemptions: true, ExemptionMaxDays: 90, UserTagsInterval: time.Hour})
	day := func(offset int) time.Time {
		d := time.Now().UTC().AddDate(0, 0, offset)
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	}
	span := func(first, last int, reason string) string {
		return day(first).Format(time.DateOnly) + "/" + day(last).Format(time.DateOnly) + " " + reason
	}
	f.setUsers([]fakeaws.User{
		// The longer one comes first: the order of the tags does not matter.
		{Name: "vendor-appliance", Tags: []fakeaws.Tag{
			{Key: "iam-credential-exemption:Key-Rotation", Value: span(0, 59, "SEC-1 longer")},
			{Key: "iam-credential-exemption:key-rotation", Value: span(0, 29, "SEC-1 shorter")},
			{Key: "iam-credential-exemption:KEY-ROTATION", Value: span(0, 89, "SEC-1 longest")},
			{Key: "iam-credential-exemption:key-unused", Value: span(0, 9, "SEC-2 alone")},
		}},
		// The same value twice: the same series twice, before.
		{Name: "same-value", Tags: []fakeaws.Tag{
			{Key: "iam-credential-exemption:key-rotation", Value: span(0, 29, "SEC-3")},
			{Key: "iam-credential-exemption:Key-Rotation", Value: span(0, 29, "SEC-3")},
		}},
		// A malformed tag of the policy does not count against the good one.
		{Name: "one-malformed", Tags: []fakeaws.Tag{
			{Key: "iam-credential-exemption:key-rotation", Value: span(0, 29, "")},
			{Key: "iam-credential-exemption:Key-Rotation", Value: span(0, 29, "SEC-4")},
		}},
	})
	rep := mustFetch(t, src, "fetch")
	exemption := func(last int, reason string) report.Exemption {
		return report.Exemption{Start: day(0), End: day(last + 1), Reason: reason, Source: "tag"}
	}
	policy := func(p string, e report.Exemption) report.Exemption { e.Policy = p; return e }
	want := map[string][]report.Exemption{
		"vendor-appliance": {policy("key-rotation", exemption(29, "SEC-1 shorter")), policy("key-unused", exemption(9, "SEC-2 alone"))},
		// Equal ends: the first key in byte order, Key-Rotation.
		"same-value":    {policy("key-rotation", exemption(29, "SEC-3"))},
		"one-malformed": {policy("key-rotation", exemption(29, "SEC-4"))},
	}
	if !maps.EqualFunc(rep.Exemptions, want, slices.Equal) {
		t.Errorf("exemptions =\n%v\nwant\n%v", rep.Exemptions, want)
	}
	var invalid []string
	for _, bad := range rep.InvalidExemptions {
		invalid = append(invalid, bad.User+" "+bad.Key+" "+string(bad.Problem))
	}
	slices.Sort(invalid)
	wantInvalid := []string{
		"one-malformed iam-credential-exemption:key-rotation no_reason",
		"same-value iam-credential-exemption:key-rotation duplicate",
		"vendor-appliance iam-credential-exemption:KEY-ROTATION duplicate",
		"vendor-appliance iam-credential-exemption:Key-Rotation duplicate",
	}
	if !slices.Equal(invalid, wantInvalid) {
		t.Errorf("invalid exemptions =\n%q\nwant\n%q", invalid, wantInvalid)
	}
	for _, bad := range rep.InvalidExemptions {
		if bad.Problem == report.ProblemDuplicate && bad.PolicyLabel() != "key-rotation" {
			t.Errorf("duplicate %s: policy label %q, want key-rotation", bad.Key, bad.PolicyLabel())
		}
	}
	if !strings.Contains(logs.String(), "one exemption per user and policy, the one that ends first is kept") {
		t.Errorf("the duplicate is not logged:\n%s", logs)
	}
}

// A listing that never ends, as a broken or hostile endpoint could send it,
// fails the lookup within a few calls rather than at the refresh's
// deadline: a marker that comes back at once, and endless new markers at
// the page cap, 2 * ceil(max users / 1,000) + 5 pages. So does a page cut
// short without a marker, which would otherwise end the listing early. The
// last good tags stay, and the report is served.
func TestUserTagsBrokenListing(t *testing.T) {
	for _, tc := range []struct {
		name string
		// period is how often the markers repeat (A, B, A, B… with 2);
		// 0 never; -1 sends no marker at all.
		period   int
		maxUsers int
		// wantCalls counts the GetAccountAuthorizationDetails calls of the
		// failed listing; wantErr is in the logged error.
		wantCalls int
		wantErr   string
	}{
		{name: "A, B, A, B", period: 2, wantCalls: 3, wantErr: "a Marker it had returned before"},
		{name: "A, A", period: 1, wantCalls: 2, wantErr: "a Marker it had returned before"},
		{name: "A, B, C, A", period: 3, wantCalls: 4, wantErr: "a Marker it had returned before"},
		{name: "never repeats", period: 0, wantCalls: 2*10 + 5, wantErr: "more than a listing of at most 10000 users (--report.max-users) takes at 1000 a page"},
		{name: "never repeats, 5,000 users", period: 0, maxUsers: 5000, wantCalls: 2*5 + 5, wantErr: "at most 5000 users"},
		{name: "truncated without a marker", period: -1, wantCalls: 1, wantErr: "page 1 is truncated but has no Marker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := withUsers(t, fakeUsers(5, 1, 0))
			src, logs := funcSource(f, awsapi.SourceOptions{
				UserTags: report.TagKeys{"owner"}, UserTagsInterval: time.Nanosecond,
				Limits: report.Limits{MaxUsers: tc.maxUsers},
			})
			good := ownerTags(mustFetch(t, src, "before"))
			if len(good) != 5 {
				t.Fatalf("before: tags of %d users, want 5", len(good))
			}

			sent := 0
			f.users = func(*iam.GetAccountAuthorizationDetailsInput) (*iam.GetAccountAuthorizationDetailsOutput, error) {
				out := &iam.GetAccountAuthorizationDetailsOutput{IsTruncated: true}
				if n := sent; tc.period >= 0 {
					if tc.period > 0 {
						n %= tc.period
					}
					out.Marker = aws.String(fmt.Sprint("marker-", n))
				}
				sent++
				return out, nil
			}
			f.calls = nil
			rep := mustFetch(t, src, "broken")
			if got := f.calls["GetAccountAuthorizationDetails"]; got != tc.wantCalls {
				t.Errorf("%d GetAccountAuthorizationDetails calls, want %d", got, tc.wantCalls)
			}
			if l := lookupOf(rep, report.LookupUserTags); l.OK {
				t.Errorf("lookup %+v, want failed", l)
			}
			if got := ownerTags(rep); fmt.Sprint(got) != fmt.Sprint(good) {
				t.Errorf("tags = %v, want the last good %v", got, good)
			}
			if !strings.Contains(logs.String(), "cannot read the user tags; serving the last good data") || !strings.Contains(logs.String(), tc.wantErr) {
				t.Errorf("the log does not say %q:\n%s", tc.wantErr, logs)
			}
		})
	}
}

// bigTagged returns n users with an owner and 3 tags of IAM's largest size
// (keys of 128 characters, values of 256): about 1.2 KB of names and tags a
// user.
func bigTagged(prefix string, n int) []fakeaws.User {
	users := make([]fakeaws.User, n)
	for i := range users {
		u := fakeaws.User{Name: fmt.Sprintf("%s-%05d", prefix, i), Tags: []fakeaws.Tag{{Key: "owner", Value: fmt.Sprint("team-", i)}}}
		for j := range 3 {
			u.Tags = append(u.Tags, fakeaws.Tag{Key: fmt.Sprintf("k%02d", j) + strings.Repeat("k", 125), Value: strings.Repeat("v", 256)})
		}
		users[i] = u
	}
	return users
}

// A page larger than the response size limit (an account of 750 users with
// many large tags passes 16 MiB at 1,000 users a page) is asked for again
// from the same marker with half the MaxItems, down to 100 a page; the
// smaller size is kept for the next listing. Scaled down here: the stand-in
// fails a page whose names and tags take more than a limit of a few hundred
// KB.
func TestUserTagsPageTooLarge(t *testing.T) {
	small := fakeUsers(1000, 1, 0) // each with an owner tag: 1,000 take 26 KB
	for _, tc := range []struct {
		name  string
		users []fakeaws.User
		limit int
		// wantCalls counts the calls of the first listing, wantNextCalls
		// those of the second, at the size the first ended with.
		wantCalls, wantNextCalls int
		wantErr                  string
	}{
		// 1000 (800 users: 940 KB, too large), then 500 twice.
		{name: "first page", users: bigTagged("big", 800), limit: 600 << 10, wantCalls: 3, wantNextCalls: 2},
		// 1000 small users, then from their marker 1000 and 500 (500 big
		// users: 590 KB, too large), 250 twice.
		{name: "later page", users: append(small, bigTagged("z-big", 500)...), limit: 400 << 10, wantCalls: 5, wantNextCalls: 6},
		// 1000, 500, 250, 125, 100: even 100 users (117 KB) are too large.
		{name: "too large at 100 a page", users: bigTagged("big", 200), limit: 100 << 10, wantCalls: 5, wantErr: "a page of 100 users is larger than the response size limit; raise --report.max-bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := withUsers(t, tc.users)
			f.users = listUsers(tc.users, 0, tc.limit)
			src, logs := funcSource(f, awsapi.SourceOptions{UserTags: report.TagKeys{"owner"}, UserTagsInterval: time.Nanosecond})
			rep := mustFetch(t, src, "first")
			if got := f.calls["GetAccountAuthorizationDetails"]; got != tc.wantCalls {
				t.Errorf("%d GetAccountAuthorizationDetails calls, want %d", got, tc.wantCalls)
			}
			if !strings.Contains(logs.String(), "a page of the user listing is larger than the response size limit; asking for fewer users a page") {
				t.Errorf("the smaller pages are not logged:\n%s", logs)
			}
			l := lookupOf(rep, report.LookupUserTags)
			if tc.wantErr != "" {
				if l.OK || len(rep.UserTags) != 0 || !strings.Contains(logs.String(), tc.wantErr) {
					t.Errorf("lookup %+v, %d users with tags; want failed, none, and the log to say %q:\n%s", l, len(rep.UserTags), tc.wantErr, logs)
				}
				return
			}
			if !l.OK || len(rep.UserTags) != len(tc.users) {
				t.Fatalf("lookup %+v, %d users with tags; want OK, %d", l, len(rep.UserTags), len(tc.users))
			}
			for _, u := range tc.users {
				i := slices.IndexFunc(u.Tags, func(t fakeaws.Tag) bool { return t.Key == "owner" })
				want := []report.Tag{{Key: "owner", Value: u.Tags[i].Value}}
				if got := rep.UserTags[u.Name]; !slices.Equal(got, want) {
					t.Errorf("%s: tags %v, want %v", u.Name, got, want)
				}
			}
			f.calls = nil
			mustFetch(t, src, "second")
			if got := f.calls["GetAccountAuthorizationDetails"]; got != tc.wantNextCalls {
				t.Errorf("second listing: %d GetAccountAuthorizationDetails calls, want %d at the smaller size", got, tc.wantNextCalls)
			}
		})
	}
}

// A key that ListAccessKeys gives to another user than the one asked is
// dropped, not exported as the asked user's; it is counted, logged once as
// a warning with both names, and the user is asked again at the next
// refresh until the answer is right.
func TestAccessKeyIDsForeignKey(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Created in the same second, so that the other key matches alice's
	// slot.
	users := []fakeaws.User{
		{Name: "alice", AccessKeys: []fakeaws.AccessKey{{ID: "AKIAALICE00000000001", Created: created, Active: true}}},
		{Name: "mallory", AccessKeys: []fakeaws.AccessKey{{ID: "AKIAMALLORY000000001", Created: created.Add(time.Millisecond), Active: true}}},
	}
	f := withUsers(t, users)
	own := f.keys
	// Asked for alice's keys, the answer has mallory's, as a broken or
	// hostile endpoint could send.
	f.keys = func(in *iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error) {
		if aws.ToString(in.UserName) == "alice" {
			in = &iam.ListAccessKeysInput{UserName: aws.String("mallory")}
		}
		return own(in)
	}
	src, logs := funcSource(f, awsapi.SourceOptions{AccessKeyIDs: true})

	for i := range 2 {
		f.calls = nil
		rep := mustFetch(t, src, fmt.Sprint("misdirected ", i))
		if got := rep.AccessKeyIDs["alice"]; got != [2]string{} {
			t.Errorf("fetch %d: alice's key IDs = %v, want none", i, got)
		}
		if got := rep.AccessKeyIDs["mallory"][0]; got != "AKIAMALLORY000000001" {
			t.Errorf("fetch %d: mallory's key ID = %q", i, got)
		}
		l := lookupOf(rep, report.LookupAccessKeyIDs)
		if !l.OK || l.Dropped != uint64(i+1) {
			t.Errorf("fetch %d: lookup %+v, want OK with %d dropped", i, l, i+1)
		}
		// mallory is looked up once; alice at every refresh.
		if got, want := f.calls["ListAccessKeys"], 2-i; got != want {
			t.Errorf("fetch %d: %d ListAccessKeys calls, want %d", i, got, want)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs)
	}
	if want := "ListAccessKeys answered with an access key of another user"; !strings.Contains(logs.String(), want) ||
		!strings.Contains(logs.String(), "user=alice returned_user=mallory") {
		t.Errorf("the warning does not say %q with both users:\n%s", want, logs)
	}
	if strings.Contains(logs.String(), "AKIA") {
		t.Errorf("a key ID reached the log:\n%s", logs)
	}

	f.keys = own
	rep := mustFetch(t, src, "answered right")
	if got := rep.AccessKeyIDs["alice"][0]; got != "AKIAALICE00000000001" {
		t.Errorf("answered right: alice's key ID = %q", got)
	}
	if l := lookupOf(rep, report.LookupAccessKeyIDs); l.Dropped != 2 {
		t.Errorf("answered right: %d dropped, want the 2 so far", l.Dropped)
	}
}

// The password policy as IAM answers it: MaxPasswordAge counts only when
// passwords expire, NoSuchEntity is an account without a policy, and an
// answer without a policy fails the lookup.
func TestPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy *types.PasswordPolicy
		err    error
		want   *report.PasswordPolicy // nil: the lookup fails
	}{
		{name: "every rule", policy: &types.PasswordPolicy{
			MinimumPasswordLength: aws.Int32(14), RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true,
			RequireLowercaseCharacters: true, AllowUsersToChangePassword: true, ExpirePasswords: true, MaxPasswordAge: aws.Int32(90),
			PasswordReusePrevention: aws.Int32(24), HardExpiry: aws.Bool(true),
		}, want: &report.PasswordPolicy{
			Exists: true, MinimumLength: 14, RequireSymbols: true, RequireNumbers: true, RequireUppercase: true,
			RequireLowercase: true, AllowUsersToChangePassword: true, ExpirePasswords: true, MaxAge: 90 * 24 * time.Hour,
			ReusePrevention: 24, HardExpiry: true,
		}},
		{name: "an age without expiry", policy: &types.PasswordPolicy{MinimumPasswordLength: aws.Int32(8), MaxPasswordAge: aws.Int32(90)},
			want: &report.PasswordPolicy{Exists: true, MinimumLength: 8}},
		{name: "no policy", err: awsError("GetAccountPasswordPolicy", &types.NoSuchEntityException{}), want: &report.PasswordPolicy{}},
		{name: "an answer without a policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := withReport(t, awsTestCSV)
			f.policy = func() (*iam.GetAccountPasswordPolicyOutput, error) {
				if tc.err != nil {
					return nil, tc.err
				}
				return &iam.GetAccountPasswordPolicyOutput{PasswordPolicy: tc.policy}, nil
			}
			src, _ := funcSource(f, awsapi.SourceOptions{PasswordPolicy: true})
			rep := mustFetch(t, src, "fetch")
			if ok := lookupOf(rep, report.LookupPasswordPolicy).OK; ok != (tc.want != nil) {
				t.Errorf("lookup OK = %v, want %v", ok, tc.want != nil)
			}
			if fmt.Sprint(rep.PasswordPolicy) != fmt.Sprint(tc.want) {
				t.Errorf("policy = %+v, want %+v", rep.PasswordPolicy, tc.want)
			}
		})
	}
}
