package collector

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

func TestCollectorExportsKeyCallers(t *testing.T) {
	states := func() []*refresh.State {
		s := *sampleStates()[0]
		rep := *s.Report
		rep.AccessKeyIDs = map[string][2]string{"ci-deploy": {"AKIAEXAMPLE000000001", ""}}
		seen := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
		rep.KeyCallers = map[string][2][]report.KeyCaller{
			"ci-deploy": {{
				{SourceIP: "203.0.113.10", UserAgent: "aws-sdk-java/1.12 Jenkins/2.440", EventSource: "sts.amazonaws.com", Origin: report.OriginOther, LastSeen: seen, Events: 7},
				{SourceIP: "10.0.1.5", UserAgent: "aws-cli/2.15", EventSource: "s3.amazonaws.com", Origin: report.OriginVPCEndpoint, Events: 1},
			}},
			// A user the report does not list: not exported.
			"gone": {{{SourceIP: "192.0.2.1", Origin: report.OriginOther, LastSeen: seen, Events: 1}}},
		}
		rep.Lookups = []report.LookupStatus{{Lookup: report.LookupKeyCallers, OK: false, Dropped: 3, Missing: 2}}
		s.Report = &rep
		return []*refresh.State{&s}
	}
	d, err := newDescs(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := d.collector(states)
	want := `
# HELP aws_iam_access_key_caller_sampled_events ` + d.help(t, "aws_iam_access_key_caller_sampled_events") + `
# TYPE aws_iam_access_key_caller_sampled_events gauge
aws_iam_access_key_caller_sampled_events{access_key_id="AKIAEXAMPLE000000001",account_id="123456789012",event_source="s3.amazonaws.com",key="1",origin="vpc_endpoint",source_ip="10.0.1.5",user="ci-deploy",user_agent="aws-cli/2.15"} 1
aws_iam_access_key_caller_sampled_events{access_key_id="AKIAEXAMPLE000000001",account_id="123456789012",event_source="sts.amazonaws.com",key="1",origin="other",source_ip="203.0.113.10",user="ci-deploy",user_agent="aws-sdk-java/1.12 Jenkins/2.440"} 7
# HELP aws_iam_access_key_caller_last_seen_timestamp_seconds ` + d.help(t, "aws_iam_access_key_caller_last_seen_timestamp_seconds") + `
# TYPE aws_iam_access_key_caller_last_seen_timestamp_seconds gauge
aws_iam_access_key_caller_last_seen_timestamp_seconds{access_key_id="AKIAEXAMPLE000000001",account_id="123456789012",event_source="sts.amazonaws.com",key="1",origin="other",source_ip="203.0.113.10",user="ci-deploy",user_agent="aws-sdk-java/1.12 Jenkins/2.440"} 1.795734e+09
# HELP iam_credential_exporter_lookup_missing_items ` + d.help(t, "iam_credential_exporter_lookup_missing_items") + `
# TYPE iam_credential_exporter_lookup_missing_items gauge
iam_credential_exporter_lookup_missing_items{account_id="123456789012",lookup="key_callers"} 2
# HELP iam_credential_exporter_lookup_dropped_items_total ` + d.help(t, "iam_credential_exporter_lookup_dropped_items_total") + `
# TYPE iam_credential_exporter_lookup_dropped_items_total counter
iam_credential_exporter_lookup_dropped_items_total{account_id="123456789012",lookup="key_callers"} 3
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"aws_iam_access_key_caller_sampled_events", "aws_iam_access_key_caller_last_seen_timestamp_seconds",
		"iam_credential_exporter_lookup_missing_items", "iam_credential_exporter_lookup_dropped_items_total"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

var helpRE = regexp.MustCompile(`help: "(.*?)", (unit|constLabels)`)

// help returns the help text of the family name.
func (d *descs) help(t *testing.T, name string) string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 100)
	d.collector(nil).Describe(ch)
	close(ch)
	for desc := range ch {
		s := desc.String()
		if strings.Contains(s, `fqName: "`+name+`"`) {
			m := helpRE.FindStringSubmatch(s)
			return strings.ReplaceAll(m[1], `\"`, `"`)
		}
	}
	t.Fatalf("no family %s", name)
	return ""
}
