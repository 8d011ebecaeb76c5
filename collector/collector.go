// Package collector turns the latest credential report of each account into
// Prometheus metrics, together with the exporter's own health, and serves
// them on /metrics from bytes encoded once per refresh.
//
// It is the exporter's own package, not a library: its API takes the
// exporter's internal/refresh types and carries no stability promise.
package collector

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

const (
	namespace = "aws_iam"
	exporter  = "iam_credential_exporter"
	fromCache = " From the IAM credential report, cached; refreshed every --report.refresh-interval."
)

// accountCollector exports the accounts' cached reports and refresh health.
// It reads published, immutable states only, so it never waits for a
// refresh and never calls AWS. The Handler gathers it once per State, never
// per scrape, so it is not exported: registered anywhere else it would be
// gathered on every scrape.
type accountCollector struct {
	states func() []*refresh.State
	*descs
}

var _ prometheus.Collector = (*accountCollector)(nil)

// descs are the accounts' metric descriptors, built once per Handler: the
// tag metrics' labels depend on the allowlists.
type descs struct {
	userInfo, userCreated                     *prometheus.Desc
	passwordEnabled, passwordLastUsed         *prometheus.Desc
	passwordLastChanged, passwordNextRotation *prometheus.Desc
	mfaActive                                 *prometheus.Desc
	keyActive, keyLastRotated, keyLastUsed    *prometheus.Desc
	certActive, certLastRotated               *prometheus.Desc
	reportGenerated, reportUsers              *prometheus.Desc
	accountInfo                               *prometheus.Desc

	// families lists every family's name, sorted as a registry gathers
	// them.
	families []string

	userTags, accountTags, keyID                   *prometheus.Desc
	policyExists, policyMinLength, policyMaxAge    *prometheus.Desc
	policyReusePrevention, policyRule              *prometheus.Desc
	lookupSuccess, lookupLastSuccess               *prometheus.Desc
	lookupDropped                                  *prometheus.Desc
	exemptionStart, exemptionEnd, exemptionInvalid *prometheus.Desc
	keyNeverUsed                                   *prometheus.Desc
	callerLastSeen, callerEvents, lookupMissing    *prometheus.Desc
	userTagKeys, accountTagKeys                    report.TagKeys

	refreshSuccess, lastSuccess, refreshDuration *prometheus.Desc
	refreshes, failures, parseErrors             *prometheus.Desc
}

// newDescs returns the descriptors, the tag metrics with one label per
// allow-listed key (see TagLabelNames).
func newDescs(userTagKeys, accountTagKeys report.TagKeys) (*descs, error) {
	userTagLabels, err := TagLabelNames(userTagKeys)
	if err != nil {
		return nil, fmt.Errorf("user tags: %w", err)
	}
	accountTagLabels, err := TagLabelNames(accountTagKeys)
	if err != nil {
		return nil, fmt.Errorf("account tags: %w", err)
	}
	user := []string{"account_id", "user"}
	key := []string{"account_id", "user", "key"}
	cert := []string{"account_id", "user", "cert"}
	account := []string{"account_id"}
	lookup := []string{"account_id", "lookup"}
	exemption := []string{"account_id", "user", "policy", "reason", "source"}
	callerLabels := []string{"account_id", "user", "key", "access_key_id", "source_ip", "user_agent", "event_source", "origin"}
	var families []string
	d := func(name, help string, labels []string) *prometheus.Desc {
		families = append(families, name)
		return prometheus.NewDesc(name, help, labels, nil)
	}
	ds := &descs{
		userTagKeys:    userTagKeys,
		accountTagKeys: accountTagKeys,

		userInfo:             d(namespace+"_user_info", "IAM user (or the root user, user=\"<root_account>\") listed in the credential report; value 1."+fromCache, []string{"account_id", "user", "arn"}),
		userCreated:          d(namespace+"_user_creation_timestamp_seconds", "When the user was created (for root: when the account was created), Unix seconds."+fromCache, user),
		passwordEnabled:      d(namespace+"_user_password_enabled", "1 if the user has a console password; absent without one (and for root: not_supported)."+fromCache, user),
		passwordLastUsed:     d(namespace+"_user_password_last_used_timestamp_seconds", "When the console password was last used, Unix seconds; absent when never used or unknown (no_information, N/A)."+fromCache, user),
		passwordLastChanged:  d(namespace+"_user_password_last_changed_timestamp_seconds", "When the console password was last set, Unix seconds; absent without a password."+fromCache, user),
		passwordNextRotation: d(namespace+"_user_password_next_rotation_timestamp_seconds", "When the password policy requires the next password change, Unix seconds; absent without such a policy."+fromCache, user),
		mfaActive:            d(namespace+"_user_mfa_active", "1 if an MFA device is enabled for the user, 0 if not."+fromCache, user),
		keyActive:            d(namespace+"_access_key_active", "1 if the access key in this slot (key=\"1\"|\"2\") is active, 0 if inactive; absent when the slot holds no key."+fromCache, key),
		keyLastRotated:       d(namespace+"_access_key_last_rotated_timestamp_seconds", "When the access key in this slot was created or last rotated, Unix seconds (also reported for inactive keys)."+fromCache, key),
		keyLastUsed:          d(namespace+"_access_key_last_used_timestamp_seconds", "When the access key in this slot was last used to sign an AWS request, Unix seconds, with the region and service of that use (empty where the report says N/A: global services such as S3); absent when never used or unknown."+fromCache, []string{"account_id", "user", "key", "region", "service"}),
		certActive:           d(namespace+"_signing_certificate_active", "1 if the X.509 signing certificate in this slot (cert=\"1\"|\"2\") is active, 0 if inactive; absent when the slot holds no certificate."+fromCache, cert),
		certLastRotated:      d(namespace+"_signing_certificate_last_rotated_timestamp_seconds", "When the signing certificate in this slot was created or last changed, Unix seconds."+fromCache, cert),
		reportGenerated:      d(namespace+"_credential_report_generated_timestamp_seconds", "When AWS generated the cached credential report (for --report.file: the file's time), Unix seconds. AWS rebuilds it at most every 4 hours.", account),
		reportUsers:          d(namespace+"_credential_report_users", "Rows in the cached credential report, the root user included.", account),
		accountInfo:          d(namespace+"_account_info", "AWS account read by the exporter; value 1; name from AWS Organizations or the config file, alias from iam:ListAccountAliases (empty when unknown or not permitted).", []string{"account_id", "name", "alias"}),

		userTags:              d(namespace+"_user_tags", "The user's tags allowed by --aws.user-tags, one label tag_<key> each (empty when the user lacks it); value 1; only for users with at least one. From iam:GetAccountAuthorizationDetails every --aws.user-tags.refresh-interval.", append(slices.Clone(user), userTagLabels...)),
		accountTags:           d(namespace+"_account_tags", "The account's tags allowed by --aws.account-tags, one label tag_<key> each (empty when the account lacks it); value 1; only for accounts with at least one. From organizations:ListTagsForResource at each discovery.", append(slices.Clone(account), accountTagLabels...)),
		keyID:                 d(namespace+"_access_key_info", "ID of the access key in this slot, from iam:ListAccessKeys (--aws.access-key-ids); value 1; absent until looked up, and when no key's creation time matches the slot's last rotation.", []string{"account_id", "user", "key", "access_key_id"}),
		policyExists:          d(namespace+"_account_password_policy_exists", "1 if the account has a password policy, 0 if not (--aws.password-policy); absent when it could not be read.", account),
		policyMinLength:       d(namespace+"_account_password_policy_minimum_length", "Minimum password length the account password policy requires.", account),
		policyMaxAge:          d(namespace+"_account_password_policy_max_age_seconds", "Age after which the account password policy expires passwords, in seconds; absent when passwords do not expire.", account),
		policyReusePrevention: d(namespace+"_account_password_policy_reuse_prevention", "How many previous passwords the account password policy forbids reusing; 0 when reuse is allowed.", account),
		policyRule:            d(namespace+"_account_password_policy_rule", "1 if the account password policy sets this rule, 0 if not: require_symbols, require_numbers, require_uppercase, require_lowercase, allow_users_to_change_password, expire_passwords, hard_expiry.", []string{"account_id", "rule"}),
		exemptionStart:        d(namespace+"_user_exemption_start_timestamp_seconds", "When the user's exemption from this policy starts, Unix seconds: midnight UTC of its first day (source=\"file\": --exemptions.file; source=\"tag\": its iam-credential-exemption:<policy> tag, --aws.exemptions); future exemptions included, so compare with time().", exemption),
		exemptionEnd:          d(namespace+"_user_exemption_end_timestamp_seconds", "When the user's exemption from this policy ends, Unix seconds: midnight UTC after its last day (source=\"file\": --exemptions.file; source=\"tag\": its iam-credential-exemption:<policy> tag, --aws.exemptions); ended exemptions included, so compare with time().", exemption),
		exemptionInvalid:      d(namespace+"_user_exemption_invalid", "1 for each iam-credential-exemption:<policy> user tag that exempts nothing (--aws.exemptions): policy is the key's part after the prefix (lower-cased, at most 64 bytes), problem one of unknown_policy, bad_dates, no_reason, span_too_long, or duplicate (another tag of the user names the same policy in another case and ends first: that one holds); the log says more.", []string{"account_id", "user", "policy", "problem"}),
		keyNeverUsed:          d(namespace+"_access_key_never_used", "1 if the key in this slot has never been used (the report's last used date is N/A); absent when it has been (see aws_iam_access_key_last_used_timestamp_seconds), when the slot holds no key, or when the report cannot say (the 16-column layout has no last-used column)."+fromCache, key),
		callerLastSeen:        d(namespace+"_access_key_caller_last_seen_timestamp_seconds", "When this caller last used the key in this slot, Unix seconds, among the CloudTrail management events sampled (--aws.key-callers: cloudtrail:LookupEvents, a day at a time over --aws.key-callers.window, in the key's last-used region and the partition's home region); only for the keys of open rotations (two active keys), the callers with the most events, at most --aws.key-callers.per-key. origin is vpc_endpoint, aws_service, aws_ip_range (--aws.key-callers.ip-ranges-file) or other. Caller fields are the caller's own text, truncated.", callerLabels),
		callerEvents:          d(namespace+"_access_key_caller_sampled_events", "Events of this caller with the key in this slot among those sampled (see aws_iam_access_key_caller_last_seen_timestamp_seconds): a sample, not the total.", callerLabels),
		lookupMissing:         d(exporter+"_lookup_missing_items", "Items this enrichment lookup could not read at its last attempt: for lookup=\"key_callers\" (the only one), keys of open rotations whose callers were not read in every region (denied, throttled, over --aws.key-callers.max-keys, out of time, or no known key ID); they keep their last callers, or have none.", lookup),
		lookupSuccess:         d(exporter+"_lookup_success", "1 if the last attempt of this enrichment lookup (lookup=\"user_tags\"|\"access_key_ids\"|\"password_policy\"|\"key_callers\") succeeded, 0 if it failed (its last good data is still served); only for the lookups turned on.", lookup),
		lookupLastSuccess:     d(exporter+"_lookup_last_success_timestamp_seconds", "When this enrichment lookup last succeeded, Unix seconds: the age of the data it serves.", lookup),
		lookupDropped:         d(exporter+"_lookup_dropped_items_total", "Items of AWS's answers to this enrichment lookup dropped because they contradict the request, since the exporter started: for lookup=\"access_key_ids\", access keys that iam:ListAccessKeys returned as another user's than the one asked; for lookup=\"key_callers\", events that cloudtrail:LookupEvents returned for another key. Anything but 0 means a broken or hostile endpoint or proxy.", lookup),

		refreshSuccess:  d(exporter+"_refresh_success", "1 if the last refresh of the account's credential report succeeded, 0 if it failed (the last good report is still served).", account),
		lastSuccess:     d(exporter+"_last_refresh_success_timestamp_seconds", "When the account's credential report was last refreshed successfully, Unix seconds.", account),
		refreshDuration: d(exporter+"_refresh_duration_seconds", "How long the last refresh of the account's credential report took, in seconds.", account),
		refreshes:       d(exporter+"_refreshes_total", "Refreshes of the account's credential report attempted since the exporter started.", account),
		failures:        d(exporter+"_refresh_failures_total", "Refreshes of the account's credential report that failed since the exporter started.", account),
		parseErrors:     d(exporter+"_report_parse_errors_total", "Problems found while parsing the account's credential reports since the exporter started: unparsable cells (exported as unknown), duplicate rows, and rejected reports.", account),
	}
	slices.Sort(families)
	ds.families = families
	return ds, nil
}

// collector returns a collector over the accounts that states lists; nil
// states describe without collecting.
func (d *descs) collector(states func() []*refresh.State) *accountCollector {
	return &accountCollector{states: states, descs: d}
}

// TagLabelNames returns the label of each allow-listed tag key: tag_
// followed by the key with every character other than an ASCII letter,
// digit or underscore replaced by an underscore, as kube-state-metrics
// names its label_ labels. Two keys that would share a label are refused:
// their values could not both be exported.
func TagLabelNames(keys report.TagKeys) ([]string, error) {
	names := make([]string, len(keys))
	for i, k := range keys {
		var b strings.Builder
		b.WriteString("tag_")
		for _, r := range k {
			if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
		names[i] = b.String()
		if j := slices.Index(names[:i], names[i]); j >= 0 {
			return nil, fmt.Errorf("tag keys %q and %q would both be exported as label %s; allow only one of them", keys[j], k, names[i])
		}
	}
	return names, nil
}

// Describe sends every descriptor: the collector is checked.
func (c *accountCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.userInfo, c.userCreated, c.passwordEnabled, c.passwordLastUsed, c.passwordLastChanged,
		c.passwordNextRotation, c.mfaActive, c.keyActive, c.keyLastRotated, c.keyLastUsed,
		c.certActive, c.certLastRotated, c.reportGenerated, c.reportUsers, c.accountInfo,
		c.userTags, c.accountTags, c.keyID, c.policyExists, c.policyMinLength, c.policyMaxAge,
		c.policyReusePrevention, c.policyRule, c.lookupSuccess, c.lookupLastSuccess, c.lookupDropped,
		c.exemptionStart, c.exemptionEnd, c.exemptionInvalid, c.keyNeverUsed,
		c.callerLastSeen, c.callerEvents, c.lookupMissing,
		c.refreshSuccess, c.lastSuccess, c.refreshDuration, c.refreshes, c.failures, c.parseErrors,
	} {
		ch <- d
	}
}

// Collect sends the metrics of every account.
func (c *accountCollector) Collect(ch chan<- prometheus.Metric) {
	if c.states == nil {
		return
	}
	for _, s := range c.states() {
		c.collectState(ch, s)
	}
}

// collectState sends what the account's report, its lookups and
// Organizations say about the account and its users, and the outcome of its
// refreshes and lookups.
func (c *accountCollector) collectState(ch chan<- prometheus.Metric, s *refresh.State) {
	id := s.AccountID
	alias := ""
	if s.Report != nil {
		alias = s.Report.AccountAlias
	}
	ch <- prometheus.MustNewConstMetric(c.accountInfo, prometheus.GaugeValue, 1, id, s.AccountName, alias)
	if len(s.AccountTags) > 0 {
		ch <- prometheus.MustNewConstMetric(c.accountTags, prometheus.GaugeValue, 1, tagValues(c.accountTagKeys, s.AccountTags, id)...)
	}
	if s.Report != nil {
		c.collectReport(ch, id, s.Report)
	}
	if s.Refreshes > 0 {
		ch <- prometheus.MustNewConstMetric(c.refreshSuccess, prometheus.GaugeValue, boolValue(s.LastErr == nil), id)
		ch <- prometheus.MustNewConstMetric(c.refreshDuration, prometheus.GaugeValue, s.LastDuration.Seconds(), id)
	}
	if !s.LastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, unixSeconds(s.LastSuccess), id)
	}
	ch <- prometheus.MustNewConstMetric(c.refreshes, prometheus.CounterValue, float64(s.Refreshes), id)
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.Failures), id)
	ch <- prometheus.MustNewConstMetric(c.parseErrors, prometheus.CounterValue, float64(s.ParseErrors), id)
	if s.Report == nil {
		return
	}
	// A failed refresh keeps the last good report, and so the outcome of
	// the lookups of the refresh that got it.
	for _, l := range s.Report.Lookups {
		ch <- prometheus.MustNewConstMetric(c.lookupSuccess, prometheus.GaugeValue, boolValue(l.OK), id, string(l.Lookup))
		if !l.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lookupLastSuccess, prometheus.GaugeValue, unixSeconds(l.LastSuccess), id, string(l.Lookup))
		}
		// Only the key lookups check their answers item by item: a counter
		// for the others would cost a series per account that stays 0.
		if l.Lookup == report.LookupAccessKeyIDs || l.Lookup == report.LookupKeyCallers {
			ch <- prometheus.MustNewConstMetric(c.lookupDropped, prometheus.CounterValue, float64(l.Dropped), id, string(l.Lookup))
		}
		if l.Lookup == report.LookupKeyCallers {
			ch <- prometheus.MustNewConstMetric(c.lookupMissing, prometheus.GaugeValue, float64(l.Missing), id, string(l.Lookup))
		}
	}
}

func (c *accountCollector) collectReport(ch chan<- prometheus.Metric, id string, rep *report.Report) {
	if !rep.GeneratedAt.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.reportGenerated, prometheus.GaugeValue, unixSeconds(rep.GeneratedAt), id)
	}
	ch <- prometheus.MustNewConstMetric(c.reportUsers, prometheus.GaugeValue, float64(len(rep.Users)), id)
	if p := rep.PasswordPolicy; p != nil {
		c.collectPasswordPolicy(ch, id, p)
	}
	c.collectInvalidExemptions(ch, id, rep.InvalidExemptions)

	for i := range rep.Users {
		u := &rep.Users[i]
		ch <- prometheus.MustNewConstMetric(c.userInfo, prometheus.GaugeValue, 1, id, u.Name, u.ARN)
		timestamp(ch, c.userCreated, u.Created, id, u.Name)
		if u.PasswordEnabled.Status == report.Present && u.PasswordEnabled.Value {
			ch <- prometheus.MustNewConstMetric(c.passwordEnabled, prometheus.GaugeValue, 1, id, u.Name)
		}
		timestamp(ch, c.passwordLastUsed, u.PasswordLastUsed, id, u.Name)
		timestamp(ch, c.passwordLastChanged, u.PasswordLastChanged, id, u.Name)
		timestamp(ch, c.passwordNextRotation, u.PasswordNextRotation, id, u.Name)
		flagMetric(ch, c.mfaActive, u.MFAActive, id, u.Name)
		if tags := rep.UserTags[u.Name]; len(tags) > 0 {
			ch <- prometheus.MustNewConstMetric(c.userTags, prometheus.GaugeValue, 1, tagValues(c.userTagKeys, tags, id, u.Name)...)
		}
		for _, e := range rep.Exemptions[u.Name] {
			ch <- prometheus.MustNewConstMetric(c.exemptionStart, prometheus.GaugeValue, float64(e.Start.Unix()), id, u.Name, e.Policy, e.Reason, e.Source)
			ch <- prometheus.MustNewConstMetric(c.exemptionEnd, prometheus.GaugeValue, float64(e.End.Unix()), id, u.Name, e.Policy, e.Reason, e.Source)
		}
		// An empty slot has no series: an absent key is not an inactive
		// one, and every series costs Prometheus memory.
		keyIDs := rep.AccessKeyIDs[u.Name]
		for k := range u.AccessKeys {
			key := &u.AccessKeys[k]
			if !key.Exists() {
				continue
			}
			slot := slotNames[k]
			flagMetric(ch, c.keyActive, key.Active, id, u.Name, slot)
			timestamp(ch, c.keyLastRotated, key.LastRotated, id, u.Name, slot)
			timestamp(ch, c.keyLastUsed, key.LastUsed, id, u.Name, slot, text(key.LastUsedRegion), text(key.LastUsedService))
			if key.LastRotated.Status == report.Present && key.LastUsed.Status == report.NotApplicable {
				ch <- prometheus.MustNewConstMetric(c.keyNeverUsed, prometheus.GaugeValue, 1, id, u.Name, slot)
			}
			if keyID := keyIDs[k]; keyID != "" {
				ch <- prometheus.MustNewConstMetric(c.keyID, prometheus.GaugeValue, 1, id, u.Name, slot, keyID)
			}
			for _, kc := range rep.KeyCallers[u.Name][k] {
				labels := []string{id, u.Name, slot, keyIDs[k], kc.SourceIP, kc.UserAgent, kc.EventSource, string(kc.Origin)}
				if !kc.LastSeen.IsZero() {
					ch <- prometheus.MustNewConstMetric(c.callerLastSeen, prometheus.GaugeValue, unixSeconds(kc.LastSeen), labels...)
				}
				ch <- prometheus.MustNewConstMetric(c.callerEvents, prometheus.GaugeValue, float64(kc.Events), labels...)
			}
		}
		for k := range u.Certificates {
			cert := &u.Certificates[k]
			if !cert.Exists() {
				continue
			}
			flagMetric(ch, c.certActive, cert.Active, id, u.Name, slotNames[k])
			timestamp(ch, c.certLastRotated, cert.LastRotated, id, u.Name, slotNames[k])
		}
	}
}

var slotNames = [2]string{"1", "2"}

// collectInvalidExemptions sends one series per malformed exemption tag,
// for the user's team to hear that it exempts nothing. Two tags whose keys
// share their first 64 bytes and their problem make one series: a second
// would be a duplicate, which fails the whole scrape.
func (c *accountCollector) collectInvalidExemptions(ch chan<- prometheus.Metric, id string, invalid []report.InvalidExemption) {
	type series struct{ user, policy string }
	seen := make(map[series][]report.ExemptionProblem, len(invalid))
	for _, bad := range invalid {
		s := series{bad.User, bad.PolicyLabel()}
		if slices.Contains(seen[s], bad.Problem) {
			continue
		}
		seen[s] = append(seen[s], bad.Problem)
		ch <- prometheus.MustNewConstMetric(c.exemptionInvalid, prometheus.GaugeValue, 1, id, bad.User, s.policy, string(bad.Problem))
	}
}

func (c *accountCollector) collectPasswordPolicy(ch chan<- prometheus.Metric, id string, p *report.PasswordPolicy) {
	ch <- prometheus.MustNewConstMetric(c.policyExists, prometheus.GaugeValue, boolValue(p.Exists), id)
	if !p.Exists {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.policyMinLength, prometheus.GaugeValue, float64(p.MinimumLength), id)
	if p.MaxAge > 0 {
		ch <- prometheus.MustNewConstMetric(c.policyMaxAge, prometheus.GaugeValue, p.MaxAge.Seconds(), id)
	}
	ch <- prometheus.MustNewConstMetric(c.policyReusePrevention, prometheus.GaugeValue, float64(p.ReusePrevention), id)
	for _, r := range []struct {
		name string
		set  bool
	}{
		{"require_symbols", p.RequireSymbols},
		{"require_numbers", p.RequireNumbers},
		{"require_uppercase", p.RequireUppercase},
		{"require_lowercase", p.RequireLowercase},
		{"allow_users_to_change_password", p.AllowUsersToChangePassword},
		{"expire_passwords", p.ExpirePasswords},
		{"hard_expiry", p.HardExpiry},
	} {
		ch <- prometheus.MustNewConstMetric(c.policyRule, prometheus.GaugeValue, boolValue(r.set), id, r.name)
	}
}

// tagValues returns the label values of a tag metric: first, then one value
// per allow-listed key, "" for a key the resource lacks.
func tagValues(keys report.TagKeys, tags []report.Tag, first ...string) []string {
	values := append(first, make([]string, len(keys))...)
	for _, t := range tags {
		if i := slices.Index(keys, t.Key); i >= 0 {
			values[len(first)+i] = t.Value
		}
	}
	return values
}

// timestamp sends the cell only when it holds a real time: a sentinel is
// never exported as 0, which an age alert would read as 56 years old.
func timestamp(ch chan<- prometheus.Metric, desc *prometheus.Desc, t report.Timestamp, labels ...string) {
	if t.Status == report.Present {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(t.Unix), labels...)
	}
}

func flagMetric(ch chan<- prometheus.Metric, desc *prometheus.Desc, f report.Flag, labels ...string) {
	if f.Status == report.Present {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, boolValue(f.Value), labels...)
	}
}

func text(t report.Text) string {
	if t.Status == report.Present {
		return t.Value
	}
	return ""
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
