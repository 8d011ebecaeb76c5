// Package reportgen generates synthetic IAM credential reports for
// benchmarks, the fake AWS endpoint and end-to-end tests. The reports follow
// the current 22-column layout and the value distributions of real accounts,
// and are the same for the same Options.
package reportgen

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options says what to generate. Zero values get defaults.
type Options struct {
	// AccountID defaults to 123456789012.
	AccountID string
	// Partition defaults to aws; aws-cn and aws-us-gov get their own regions.
	Partition string
	// Users is the number of IAM users; the root row comes on top.
	Users int
	Seed  int64
	// Now is when the report is generated: every date lies before it. It
	// defaults to a fixed time, not the clock, so that output is reproducible.
	Now time.Time
}

// DefaultNow is the generation time used when Options.Now is zero.
var DefaultNow = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

var header = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used",
	"password_last_changed", "password_next_rotation", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
	"access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
}

const (
	na            = "N/A"
	noInformation = "no_information"
	notSupported  = "not_supported"
	day           = 24 * time.Hour
	year          = 365 * day
)

var (
	firstNames = []string{
		"aaliyah", "ahmed", "alice", "ana", "arjun", "ben", "carlos", "chen", "chloe", "daniel",
		"dmitri", "elena", "emma", "fatima", "felix", "grace", "hana", "hiro", "ines", "ivan",
		"jamal", "james", "julia", "kofi", "lars", "leila", "lucas", "maria", "mei", "mohammed",
		"nina", "noah", "olga", "omar", "priya", "rafael", "sara", "tomas", "wei", "zoe",
	}
	lastNames = []string{
		"adeyemi", "andersen", "bauer", "brown", "chowdhury", "costa", "dubois", "garcia", "gupta", "haddad",
		"ivanova", "jensen", "kim", "kowalski", "li", "lopez", "martin", "meyer", "moreau", "murphy",
		"nakamura", "nguyen", "novak", "okafor", "olsen", "patel", "rossi", "santos", "schmidt", "silva",
		"smith", "suzuki", "tanaka", "taylor", "wang", "weber", "williams", "wilson", "yilmaz", "zhang",
	}
	apps = []string{
		"airflow", "backup", "billing", "checkout", "datadog", "etl", "gitlab", "grafana", "inventory",
		"jenkins", "ledger", "mailer", "payments", "reports", "search", "splunk", "terraform", "vault",
	}
	envs        = []string{"prod", "staging", "dev"}
	humanPaths  = []string{"/engineering/", "/finance/", "/support/", "/contractors/"}
	robotPaths  = []string{"/service-accounts/", "/ci/"}
	mailDomains = []string{"example.com", "partner.example", "corp.example"}

	// services is weighted by repetition: most keys are used for storage and
	// identity calls, fewer for the long tail.
	services = []string{
		"s3", "s3", "s3", "s3", "sts", "sts", "sts", "ec2", "ec2", "iam", "iam",
		"lambda", "dynamodb", "cloudformation", "ecr", "logs", "secretsmanager", "sqs", "kms", "ses",
	}
	regionsByPartition = map[string][]string{
		"aws":        {"us-east-1", "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"},
		"aws-cn":     {"cn-north-1", "cn-northwest-1"},
		"aws-us-gov": {"us-gov-west-1", "us-gov-east-1"},
	}
)

// Generate returns a credential report as AWS writes it: a header, the root
// row, then the users sorted case-insensitively, LF line ends and no final
// newline.
func Generate(opts Options) []byte {
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.Partition == "" {
		opts.Partition = "aws"
	}
	opts.Users = max(opts.Users, 0)
	if opts.Now.IsZero() {
		opts.Now = DefaultNow
	}
	g := &generator{
		rng:     rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15)),
		now:     opts.Now.UTC().Truncate(time.Second),
		arn:     "arn:" + opts.Partition + ":iam::" + opts.AccountID + ":",
		regions: regionsByPartition[opts.Partition],
		taken:   make(map[string]bool, opts.Users),
	}
	if g.regions == nil {
		g.regions = regionsByPartition["aws"]
	}
	// An account either has a password expiry policy or it does not; it
	// applies to every console user alike.
	g.maxPasswordAge = []time.Duration{0, 0, 90 * day, 365 * day}[g.rng.IntN(4)]
	g.rootCreated = g.now.Add(-6*year - g.duration(2*year))

	rows := make([][]string, 0, opts.Users)
	for range opts.Users {
		rows = append(rows, g.user())
	}
	slices.SortFunc(rows, func(a, b []string) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a[0]), strings.ToLower(b[0])), cmp.Compare(a[0], b[0]))
	})

	var buf bytes.Buffer
	buf.Grow((opts.Users + 2) * 260)
	w := csv.NewWriter(&buf)
	_ = w.Write(header)
	_ = w.Write(g.root())
	for _, row := range rows {
		_ = w.Write(row)
	}
	w.Flush()
	// Writes to a bytes.Buffer cannot fail.
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

type generator struct {
	rng            *rand.Rand
	now            time.Time
	arn            string
	regions        []string
	taken          map[string]bool
	maxPasswordAge time.Duration
	rootCreated    time.Time
}

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// duration returns a random duration in [0, max), in whole seconds.
func (g *generator) duration(max time.Duration) time.Duration {
	if max < time.Second {
		return 0
	}
	return time.Duration(g.rng.Int64N(int64(max/time.Second))) * time.Second
}

// recentBetween returns a time in [from, g.now], skewed towards now: most
// credentials in use were used lately.
func (g *generator) recentBetween(from time.Time) time.Time {
	u := g.rng.Float64()
	return g.now.Add(-time.Duration(u * u * u * float64(g.now.Sub(from))))
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// lastUsed rounds down to the minute, as AWS does for last-used dates, without
// going before the time the credential appeared.
func lastUsed(t, notBefore time.Time) string {
	t = t.Truncate(time.Minute)
	if t.Before(notBefore) {
		t = notBefore
	}
	return stamp(t)
}

func (g *generator) root() []string {
	passwordUsed := noInformation
	if g.chance(0.7) {
		passwordUsed = stamp(g.now.Add(-g.duration(90 * day)))
	}
	return []string{
		"<root_account>", g.arn + "root", stamp(g.rootCreated),
		notSupported, passwordUsed, notSupported, notSupported, "true",
		"false", na, na, na, na,
		"false", na, na, na, na,
		"false", na, "false", na,
	}
}

func (g *generator) user() []string {
	human := g.chance(0.45)
	name, path := g.name(human)
	created := g.now.Add(-day - g.duration(5*year-day))
	if created.Before(g.rootCreated) {
		created = g.rootCreated.Add(day)
	}

	row := make([]string, 0, len(header))
	row = append(row, name, g.arn+"user"+path+name, stamp(created))

	console := human && g.chance(0.88)
	if console {
		changed := created.Add(g.duration(g.now.Sub(created)))
		used := noInformation
		if g.chance(0.92) {
			used = stamp(g.recentBetween(changed))
		}
		next := na
		if g.maxPasswordAge > 0 {
			next = stamp(changed.Add(g.maxPasswordAge))
		}
		row = append(row, "true", used, stamp(changed), next, strconv.FormatBool(g.chance(0.85)))
	} else {
		row = append(row, "false", na, na, na, strconv.FormatBool(g.chance(0.03)))
	}

	var keys [2][]string
	switch r := g.rng.Float64(); {
	case r < 0.70:
		active := 0
		if g.chance(0.2) {
			active = 1
		}
		keys[active] = g.activeKey(created)
		if g.chance(0.12) {
			keys[1-active] = g.inactiveKey(created)
		}
	case r < 0.85:
		keys[0], keys[1] = g.activeKey(created), g.activeKey(created)
	default:
		if g.chance(0.5) {
			keys[0] = g.inactiveKey(created)
		}
	}
	for _, k := range keys {
		if k == nil {
			k = []string{"false", na, na, na, na}
		}
		row = append(row, k...)
	}

	if g.chance(0.03) {
		row = append(row, "true", stamp(created.Add(g.duration(g.now.Sub(created)))))
	} else {
		row = append(row, "false", na)
	}
	return append(row, "false", na)
}

// keyRotated returns when a key was created: up to three years ago, and not
// before its user.
func (g *generator) keyRotated(created time.Time) time.Time {
	rotated := g.now.Add(-g.duration(3 * year))
	if rotated.Before(created) {
		rotated = created.Add(g.duration(g.now.Sub(created)))
	}
	return rotated
}

func (g *generator) activeKey(created time.Time) []string {
	rotated := g.keyRotated(created)
	if g.chance(0.2) {
		return []string{"true", stamp(rotated), na, na, na}
	}
	service := g.pick(services)
	region := g.pick(g.regions)
	// Global services are logged without a region: always for IAM, often for S3.
	if service == "iam" || (service == "s3" && g.chance(0.5)) {
		region = na
	}
	return []string{"true", stamp(rotated), lastUsed(g.recentBetween(rotated), rotated), region, service}
}

// inactiveKey keeps its rotation date and, often, its last use: real reports
// do, although the documentation says N/A.
func (g *generator) inactiveKey(created time.Time) []string {
	rotated := g.keyRotated(created)
	if g.chance(0.5) {
		return []string{"false", stamp(rotated), na, na, na}
	}
	used := rotated.Add(g.duration(g.now.Sub(rotated) / 2))
	service := g.pick(services)
	region := g.pick(g.regions)
	if service == "iam" {
		region = na
	}
	return []string{"false", stamp(rotated), lastUsed(used, rotated), region, service}
}

// name returns a user name, unique without regard to case as IAM requires,
// and the user's path.
func (g *generator) name(human bool) (name, path string) {
	path = "/"
	if human {
		first, last := g.pick(firstNames), g.pick(lastNames)
		switch r := g.rng.Float64(); {
		case r < 0.55:
			name = first + "." + last
		case r < 0.70:
			name = strings.ToUpper(first[:1]) + first[1:] + "." + strings.ToUpper(last[:1]) + last[1:]
		case r < 0.85:
			name = first[:1] + last
		case r < 0.99:
			name = first + "." + last + "@" + g.pick(mailDomains)
		default:
			// IAM allows commas, so the CSV has to quote some names.
			name = last + "," + first
		}
		if g.chance(0.2) {
			path = g.pick(humanPaths)
		}
	} else {
		app, env := g.pick(apps), g.pick(envs)
		switch r := g.rng.Float64(); {
		case r < 0.45:
			name = "svc-" + app + "-" + env
		case r < 0.70:
			name = "ci-" + app
		case r < 0.90:
			name = app + "-" + env + "-deployer"
		default:
			name = app + "_" + env + "+readonly"
		}
		if g.chance(0.3) {
			path = g.pick(robotPaths)
		}
	}
	// Number a clash the way people do: alice.smith2, alice.smith2@example.com.
	local, domain, _ := strings.Cut(name, "@")
	for n := 2; g.taken[strings.ToLower(name)]; n++ {
		name = local + strconv.Itoa(n)
		if domain != "" {
			name += "@" + domain
		}
	}
	g.taken[strings.ToLower(name)] = true
	return name, path
}
