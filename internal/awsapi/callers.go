package awsapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"golang.org/x/time/rate"

	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// The callers of the keys of open rotations, from CloudTrail event history
// (cloudtrail:LookupEvents with the AccessKeyId attribute). Event history
// holds the management events of one region for 90 days, newest first, 50
// a page: a few pages of a busy key cover minutes, and the weekly job that
// stalls a rotation would never show. So the window is sampled: one slice
// a day, and the first pages of each slice (StartTime, EndTime), in the
// region the report says the key was last used in and in the partition's
// home region, where IAM and global STS calls are recorded.

// CallerOptions tune the key callers lookup (SourceOptions.KeyCallers).
type CallerOptions struct {
	// Rate is the most LookupEvents calls per second per region: CloudTrail
	// allows 2 per account and region, shared with every other tool.
	Rate float64
	// Window is how far back events are sampled (event history keeps 90
	// days).
	Window time.Duration
	// PagesPerDay is how many pages of 50 events each day's slice reads.
	PagesPerDay int
	// PerKey is how many callers are kept per key: the most events first.
	PerKey int
	// MaxKeys is how many keys an account looks up per refresh; the others
	// wait for the next refreshes, least recently read first.
	MaxKeys int
	// Interval is how long a key's callers are served before they are read
	// again.
	Interval time.Duration
	// AWSRanges classifies source addresses inside AWS; nil: unknown.
	AWSRanges *IPRanges
}

// Defaults of CallerOptions, for the flags and for zero options.
const (
	DefaultCallersRate        = 1
	DefaultCallersWindow      = 7 * 24 * time.Hour
	DefaultCallersPagesPerDay = 1
	DefaultCallersPerKey      = 3
	DefaultCallersMaxKeys     = 10
	DefaultCallersInterval    = 6 * time.Hour
)

func (o CallerOptions) withDefaults() CallerOptions {
	o.Rate = cmp.Or(o.Rate, DefaultCallersRate)
	o.Window = cmp.Or(o.Window, DefaultCallersWindow)
	o.PagesPerDay = cmp.Or(o.PagesPerDay, DefaultCallersPagesPerDay)
	o.PerKey = cmp.Or(o.PerKey, DefaultCallersPerKey)
	o.MaxKeys = cmp.Or(o.MaxKeys, DefaultCallersMaxKeys)
	o.Interval = cmp.Or(o.Interval, DefaultCallersInterval)
	return o
}

// lookupEventsPageSize is CloudTrail's largest MaxResults.
const lookupEventsPageSize = 50

// The longest caller fields kept, in bytes: they come from whoever called
// AWS, and each distinct value is a series.
const (
	maxSourceIPBytes    = 64
	maxUserAgentBytes   = 128
	maxEventSourceBytes = 64
)

// callerEntry is what the last complete lookup of one key found.
type callerEntry struct {
	callers []report.KeyCaller
	readAt  time.Time
}

// callerState is what a source remembers of the key callers lookup.
type callerState struct {
	keyCallers lookup
	// callersByKey is keyed by access key ID.
	callersByKey map[string]callerEntry
	// trailLimiters spread the calls of each region.
	trailLimiters map[string]*rate.Limiter
	trail         *cloudtrail.Client
	loopWarned    bool
}

// rotationKey is a key of an open rotation to look up.
type rotationKey struct {
	user    string
	slot    int
	id      string
	regions []string
}

// errOutOfTime ends the lookups of a refresh whose deadline is near.
var errOutOfTime = errors.New("the refresh's deadline is near")

// lookUpKeyCallers reads the callers of the keys of open rotations (users
// with two active keys) that are due, at most MaxKeys of them, and
// attaches every such key's last callers to rep. A key not in an open
// rotation costs no call. It returns how many keys could not be read, and
// the error of one failed region: a denied or throttled region is skipped
// for the rest of the refresh, the other regions are still read.
func (s *ReportSource) lookUpKeyCallers(ctx context.Context, rep *report.Report) (missing int, err error) {
	o := s.opts.Callers
	home := report.Partitions[len(report.Partitions)-1].Region
	if p, ok := report.LookupPartition(rep.Partition); ok {
		home = p.Region
	}
	var keys []rotationKey
	for i := range rep.Users {
		u := &rep.Users[i]
		if u.Root || !inRotation(u) {
			continue
		}
		ids := rep.AccessKeyIDs[u.Name]
		for slot := range u.AccessKeys {
			if ids[slot] == "" {
				// LookupEvents needs the key's ID.
				missing++
				continue
			}
			regions := []string{home}
			if r := u.AccessKeys[slot].LastUsedRegion; r.Status == report.Present && r.Value != home && isRegionName(r.Value) {
				regions = []string{r.Value, home}
			}
			keys = append(keys, rotationKey{user: u.Name, slot: slot, id: ids[slot], regions: regions})
		}
	}
	total := missing + len(keys) // keys of open rotations, with an ID or not

	next := make(map[string]callerEntry, len(keys))
	var due []rotationKey
	now := time.Now()
	for _, k := range keys {
		e, ok := s.callersByKey[k.id]
		if ok {
			next[k.id] = e
		}
		if !ok || now.Sub(e.readAt) >= o.Interval {
			due = append(due, k)
		}
	}
	// Never read first, then the least recently read.
	slices.SortStableFunc(due, func(a, b rotationKey) int {
		return s.callersByKey[a.id].readAt.Compare(s.callersByKey[b.id].readAt)
	})
	if len(due) > o.MaxKeys {
		missing += len(due) - o.MaxKeys
		due = due[:o.MaxKeys]
	}

	failed := map[string]error{} // region → why it is skipped
	for n, k := range due {
		callers, complete, kerr := s.readKeyCallers(ctx, k, now, failed)
		if errors.Is(kerr, context.Canceled) {
			return missing, kerr
		}
		if errors.Is(kerr, errOutOfTime) {
			left := len(due) - n
			missing += left
			s.logger.Info("looking the key callers up takes more than one refresh; the rest come at the next ones",
				"lookup", s.keyCallers.name, "looked_up", n, "left", left)
			break
		}
		if !complete {
			missing++
			if _, ok := next[k.id]; ok {
				// The last complete read stands.
				continue
			}
		}
		next[k.id] = callerEntry{callers: callers, readAt: now}
	}
	if len(failed) > 0 {
		// One region names the failure, the same one on every refresh that
		// fails alike, rather than whichever the map gives first.
		region := slices.Min(slices.Collect(maps.Keys(failed)))
		err = fmt.Errorf("look up key callers in region %s (%d of %d keys of open rotations not read; their callers are the last read, or none): %w",
			region, missing, total, failed[region])
	}
	s.callersByKey = next
	rep.KeyCallers = map[string][2][]report.KeyCaller{}
	for _, k := range keys {
		if e, ok := next[k.id]; ok && len(e.callers) > 0 {
			slots := rep.KeyCallers[k.user]
			slots[k.slot] = e.callers
			rep.KeyCallers[k.user] = slots
		}
	}
	return missing, err
}

// inRotation reports whether u is in an open rotation: two active keys.
func inRotation(u *report.User) bool {
	for i := range u.AccessKeys {
		if a := u.AccessKeys[i].Active; a.Status != report.Present || !a.Value {
			return false
		}
	}
	return true
}

// isRegionName reports whether r looks like a region name (us-east-1), so
// that a damaged report cannot send requests to an arbitrary host name.
func isRegionName(r string) bool {
	if len(r) < 6 || len(r) > 32 {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return strings.Count(r, "-") >= 2
}

// readKeyCallers samples the window of one key, a slice a day, each in
// every region not failed yet. complete is false when a region could not
// be read; the error is errOutOfTime, a cancellation, or nil (a failed
// region is recorded in failed instead).
func (s *ReportSource) readKeyCallers(ctx context.Context, k rotationKey, now time.Time, failed map[string]error) (callers []report.KeyCaller, complete bool, err error) {
	o := s.opts.Callers
	agg := callerAggregate{seen: map[string]bool{}, byCaller: map[callerID]*report.KeyCaller{}}
	complete = true
	start := now.Add(-o.Window)
	for end := now; end.After(start); end = end.Add(-24 * time.Hour) {
		from := end.Add(-24 * time.Hour)
		if from.Before(start) {
			from = start
		}
		for _, region := range k.regions {
			if failed[region] != nil {
				complete = false
				continue
			}
			rerr := s.readSlice(ctx, k, region, from, end, &agg)
			switch {
			case rerr == nil:
			case errors.Is(rerr, errOutOfTime), errors.Is(rerr, context.Canceled):
				return nil, false, rerr
			default:
				failed[region] = rerr
				complete = false
			}
		}
	}
	return agg.top(o.PerKey), complete, nil
}

// readSlice reads the first pages of one day of one key in one region,
// through the SDK's paginator. A NextToken that repeats the one before
// (StopOnDuplicateToken) ends the day's sample with what was read; longer
// cycles are cut by PagesPerDay, and their events counted once by ID.
func (s *ReportSource) readSlice(ctx context.Context, k rotationKey, region string, from, to time.Time, agg *callerAggregate) error {
	pages := cloudtrail.NewLookupEventsPaginator(s.trail, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(k.id)}},
		StartTime:        aws.Time(from),
		EndTime:          aws.Time(to),
		MaxResults:       aws.Int32(lookupEventsPageSize),
	}, func(o *cloudtrail.LookupEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	lim := s.trailLimiters[region]
	if lim == nil {
		lim = spreadLimiter(s.opts.Callers.Rate)
		s.trailLimiters[region] = lim
	}
	for n := 0; n < s.opts.Callers.PagesPerDay && pages.HasMorePages(); n++ {
		if err := lim.Wait(ctx); err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx.Err()
			}
			return errOutOfTime
		}
		out, err := pages.NextPage(ctx, func(o *cloudtrail.Options) { o.Region = region })
		var badToken *cttypes.InvalidNextTokenException
		switch {
		case errors.As(err, &badToken):
			// CloudTrail refused a token it gave: the slice ends with what
			// was read.
			s.logger.Debug("CloudTrail refused its own NextToken; the day's sample ends there",
				"lookup", s.keyCallers.name, "region", region)
			return nil
		case err != nil:
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx.Err()
			}
			return err
		}
		for _, ev := range out.Events {
			if !agg.add(k.id, ev, s.opts.Callers.AWSRanges) {
				s.keyCallers.dropped++
				level := slog.LevelDebug
				if !s.keyCallers.warned {
					s.keyCallers.warned = true
					level = slog.LevelWarn
				}
				s.logger.Log(ctx, level, "LookupEvents answered with an event of another access key, or one without its key; the event is dropped and counted in iam_credential_exporter_lookup_dropped_items_total",
					"lookup", s.keyCallers.name, "region", region)
			}
		}
		if aws.ToString(out.NextToken) != "" && !pages.HasMorePages() && !s.loopWarned {
			// The paginator dropped a token that repeated the last one.
			s.loopWarned = true
			s.logger.Warn("LookupEvents returned a NextToken it had returned before; the day's sample ends there",
				"lookup", s.keyCallers.name, "region", region)
		}
	}
	return nil
}

// callerID tells callers apart.
type callerID struct {
	ip, agent, source string
	origin            report.Origin
}

type callerAggregate struct {
	// seen holds the event IDs counted: slices share their edges.
	seen     map[string]bool
	byCaller map[callerID]*report.KeyCaller
}

// trailRecord is the part of an event's CloudTrailEvent JSON read here.
type trailRecord struct {
	SourceIPAddress string `json:"sourceIPAddress"`
	UserAgent       string `json:"userAgent"`
	EventSource     string `json:"eventSource"`
	VPCEndpointID   string `json:"vpcEndpointId"`
	UserIdentity    struct {
		AccessKeyID string `json:"accessKeyId"`
	} `json:"userIdentity"`
}

// add counts ev as a call of key id. It reports false when the event is
// not one of that key (another key's, or one that names none), which is
// dropped.
func (a *callerAggregate) add(id string, ev cttypes.Event, ranges *IPRanges) bool {
	var rec trailRecord
	if ev.CloudTrailEvent != nil {
		if err := json.Unmarshal([]byte(*ev.CloudTrailEvent), &rec); err != nil {
			return false
		}
	}
	top, inner := aws.ToString(ev.AccessKeyId), rec.UserIdentity.AccessKeyID
	if top == "" && inner == "" || top != "" && top != id || inner != "" && inner != id {
		return false
	}
	if eid := aws.ToString(ev.EventId); eid != "" {
		if a.seen[eid] {
			return true
		}
		a.seen[eid] = true
	}
	c := callerID{
		ip:     clean(rec.SourceIPAddress, maxSourceIPBytes),
		agent:  clean(rec.UserAgent, maxUserAgentBytes),
		source: clean(cmp.Or(rec.EventSource, aws.ToString(ev.EventSource)), maxEventSourceBytes),
		origin: originOf(rec, ranges),
	}
	kc := a.byCaller[c]
	if kc == nil {
		kc = &report.KeyCaller{SourceIP: c.ip, UserAgent: c.agent, EventSource: c.source, Origin: c.origin}
		a.byCaller[c] = kc
	}
	kc.Events++
	if t := aws.ToTime(ev.EventTime); t.After(kc.LastSeen) {
		kc.LastSeen = t.UTC()
	}
	return true
}

// top returns the n callers with the most events, the most recent first
// among equals.
func (a *callerAggregate) top(n int) []report.KeyCaller {
	all := make([]report.KeyCaller, 0, len(a.byCaller))
	for _, c := range a.byCaller {
		all = append(all, *c)
	}
	slices.SortFunc(all, func(x, y report.KeyCaller) int {
		return cmp.Or(
			cmp.Compare(y.Events, x.Events),
			y.LastSeen.Compare(x.LastSeen),
			strings.Compare(x.SourceIP, y.SourceIP),
			strings.Compare(x.UserAgent, y.UserAgent),
			strings.Compare(x.EventSource, y.EventSource),
			strings.Compare(string(x.Origin), string(y.Origin)),
		)
	})
	return all[:min(n, len(all))]
}

// originOf says where the caller of rec ran, as far as the event shows.
func originOf(rec trailRecord, ranges *IPRanges) report.Origin {
	if rec.VPCEndpointID != "" {
		return report.OriginVPCEndpoint
	}
	ip := rec.SourceIPAddress
	if ip == "AWS Internal" || strings.HasSuffix(ip, ".amazonaws.com") {
		return report.OriginAWSService
	}
	if addr, err := netip.ParseAddr(ip); err == nil && ranges.Contains(addr) {
		return report.OriginAWSIPRange
	}
	return report.OriginOther
}

// clean makes text from an event fit for a label: valid UTF-8, no control
// or format characters (which could forge lines or reorder text in an
// alert), at most maxBytes bytes, cut between characters.
func clean(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	if len(s) <= maxBytes {
		return s
	}
	cut := maxBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// IPRanges are AWS's published address ranges (ip-ranges.json).
type IPRanges struct {
	prefixes []netip.Prefix
}

// LoadIPRanges reads AWS's ip-ranges.json
// (https://ip-ranges.amazonaws.com/ip-ranges.json).
func LoadIPRanges(path string) (*IPRanges, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read AWS IP ranges: %w", err)
	}
	var doc struct {
		Prefixes []struct {
			IPPrefix string `json:"ip_prefix"`
		} `json:"prefixes"`
		IPv6Prefixes []struct {
			IPv6Prefix string `json:"ipv6_prefix"`
		} `json:"ipv6_prefixes"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("read AWS IP ranges %s: %w", path, err)
	}
	r := &IPRanges{}
	add := func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("read AWS IP ranges %s: %w", path, err)
		}
		r.prefixes = append(r.prefixes, p.Masked())
		return nil
	}
	for _, p := range doc.Prefixes {
		if err := add(p.IPPrefix); err != nil {
			return nil, err
		}
	}
	for _, p := range doc.IPv6Prefixes {
		if err := add(p.IPv6Prefix); err != nil {
			return nil, err
		}
	}
	if len(r.prefixes) == 0 {
		return nil, fmt.Errorf("read AWS IP ranges %s: no prefixes", path)
	}
	return r, nil
}

// Contains reports whether addr is in the ranges; a nil IPRanges holds
// nothing.
func (r *IPRanges) Contains(addr netip.Addr) bool {
	if r == nil {
		return false
	}
	addr = addr.Unmap()
	// A few thousand prefixes, checked for a few callers per refresh: a
	// linear scan costs microseconds.
	for _, p := range r.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
