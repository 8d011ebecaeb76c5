package collector

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iam-credential-exporter/iam_credential_exporter/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// ?account_id= serves what promhttp serves over that account alone, and
// nothing of the exporter's own, in every format and encoding.
func TestAccountScopeMatchesPromhttp(t *testing.T) {
	live, _ := liveCollectors()
	states := cacheStates(t)
	h := newHandler(t, states, live, HandlerOpts{})
	for _, s := range states {
		one := []*refresh.State{s}
		plain := reference(&one, nil)
		target := "/metrics?account_id=" + s.AccountID
		for _, a := range acceptHeaders {
			for _, enc := range acceptEncodings {
				if got := compare(t, h, plain, target, a.accept, enc); got != a.cached {
					t.Errorf("%s Accept %s: served from the cache %v, want %v", target, a.name, got, a.cached)
				}
			}
		}
		if compare(t, h, plain, target+"&name[]=aws_iam_user_info", acceptHeaders[1].accept, "gzip") {
			t.Errorf("%s: a name[] filter was served from the cache", target)
		}
	}
}

// ?exporter=true serves the live metrics alone.
func TestExporterScopeMatchesPromhttp(t *testing.T) {
	live, _ := liveCollectors()
	h := newHandler(t, cacheStates(t), live, HandlerOpts{})
	var none []*refresh.State
	plain := reference(&none, live)
	for _, a := range acceptHeaders {
		for _, enc := range acceptEncodings {
			compare(t, h, plain, "/metrics?exporter=true", a.accept, enc)
		}
	}
}

// The per-account responses together hold exactly the account series of
// /metrics, each once; the exporter's own response holds the rest.
func TestScopesAddUpToAll(t *testing.T) {
	live, _ := liveCollectors()
	states := cacheStates(t)
	h := newHandler(t, states, live, HandlerOpts{})
	sampleLines := func(target string) []string {
		t.Helper()
		r := get(t, h, target, "text/plain;version=0.0.4", "gzip")
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d", target, r.status)
		}
		var out []string
		for l := range strings.Lines(string(r.body)) {
			if !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return out
	}
	all := sampleLines("/metrics")
	parts := sampleLines("/metrics?exporter=true")
	for _, s := range states {
		lines := sampleLines("/metrics?account_id=" + s.AccountID)
		for _, l := range lines {
			if !strings.Contains(l, `account_id="`+s.AccountID+`"`) {
				t.Errorf("account %s serves a series of another: %s", s.AccountID, l)
			}
		}
		parts = append(parts, lines...)
	}
	slices.Sort(all)
	slices.Sort(parts)
	if !slices.Equal(all, parts) {
		t.Fatalf("the scopes do not add up to /metrics:\n%s", diffLines(strings.Join(all, ""), strings.Join(parts, "")))
	}
}

// A malformed request gets a 400 and an account the exporter does not read
// a 404, each with a one-line reason.
func TestScopeErrors(t *testing.T) {
	h := newHandler(t, cacheStates(t), nil, HandlerOpts{})
	for target, want := range map[string]int{
		"/metrics?account_id=12345":                                http.StatusBadRequest,
		"/metrics?account_id=12345678901x":                         http.StatusBadRequest,
		"/metrics?account_id=":                                     http.StatusBadRequest,
		"/metrics?account_id=123456789012&account_id=210987654321": http.StatusBadRequest,
		"/metrics?exporter=yes":                                    http.StatusBadRequest,
		"/metrics?exporter=true&account_id=123456789012":           http.StatusBadRequest,
		"/metrics?account_id=444444444444":                         http.StatusNotFound,
		"/metrics?account_id=123456789012&unrelated=1":             http.StatusOK,
		"/metrics?exporter=true&name[]=iam_credential_exporter_up": http.StatusOK,
	} {
		r := get(t, h, target, "", "")
		if r.status != want {
			t.Errorf("%s: status %d, want %d", target, r.status, want)
			continue
		}
		if want != http.StatusOK && strings.Count(strings.TrimSpace(string(r.body)), "\n") != 0 {
			t.Errorf("%s: the reason is not one line: %q", target, r.body)
		}
	}
}

// A State is encoded when it is published, in what Prometheus asks for, so
// that the first scrape after a refresh only copies bytes. A refresh that
// keeps the report encodes only the health; an uncompressed scrape is
// served from the same compressed bytes; a format that a scrape asks for
// once is encoded ahead from then on; concurrent scrapes all get the same
// bytes.
func TestCachedHandlerEncodesWhenPublished(t *testing.T) {
	states := cacheStates(t)
	h := newHandler(t, states, nil, HandlerOpts{})
	accounts := int64(len(states))
	prom := acceptHeaders[1].accept
	want := func(step string, facts, health int64) {
		t.Helper()
		if got := h.encodings.Load(); got != facts {
			t.Fatalf("%s: %d encodings of facts, want %d", step, got, facts)
		}
		if got := h.healthEncodings.Load(); got != health {
			t.Fatalf("%s: %d encodings of health, want %d", step, got, health)
		}
	}
	scrapeAll := func(target, accept, enc string) {
		t.Helper()
		bodies := make([][]byte, 10)
		done := make(chan struct{})
		for i := range bodies {
			go func() {
				bodies[i] = get(t, h, target, accept, enc).body
				done <- struct{}{}
			}()
		}
		for range bodies {
			<-done
		}
		for i := range bodies {
			if string(bodies[i]) != string(bodies[0]) {
				t.Fatalf("scrape %d got other bytes than scrape 0", i)
			}
		}
	}
	want("published", accounts, accounts)
	scrapeAll("/metrics", prom, "gzip")
	scrapeAll("/metrics", prom, "")
	scrapeAll("/metrics?account_id="+states[0].AccountID, prom, "")
	want("scraped with and without gzip", accounts, accounts)

	// publish publishes the states with account i's changed by change.
	next := states
	publish := func(change func(*refresh.State), accounts ...int) {
		next = slices.Clone(next)
		for _, i := range accounts {
			s := *next[i]
			s.Refreshes++
			change(&s)
			next[i] = &s
		}
		h.Update(next)
	}
	sameReport := func(*refresh.State) {}

	// A refresh that returns the report already held.
	publish(sameReport, 0)
	want("a refresh with the same report", accounts, accounts+1)

	// One with a new report, and a renamed account.
	publish(func(s *refresh.State) { s.Report = &report.Report{AccountID: s.AccountID} }, 0)
	publish(func(s *refresh.State) { s.AccountName = "renamed" }, 1)
	want("a new report and a new name", accounts+2, accounts+3)

	// The text format, once asked for, is encoded for every account, and
	// then ahead of scrapes.
	scrapeAll("/metrics", "text/plain;version=0.0.4", "gzip")
	want("scraped as text", 2*accounts+2, 2*accounts+3)
	publish(sameReport, 2)
	want("a refresh with text wanted", 2*accounts+2, 2*accounts+5)

	// An hour without a request for text: the next Update drops its
	// encodings and no longer encodes it ahead.
	later := time.Now().Add(formatHorizon + time.Minute)
	h.now = func() time.Time { return later }
	scrapeAll("/metrics", prom, "gzip")
	publish(sameReport, 2)
	want("a refresh an hour after the last text scrape", 2*accounts+2, 2*accounts+6)
	scrapeAll("/metrics", "text/plain;version=0.0.4", "")
	want("text asked for again", 3*accounts+2, 3*accounts+6)
}

// /sd lists one target for the exporter and one per account, sorted, at
// the address Prometheus asked /sd at.
func TestSD(t *testing.T) {
	states := append(cacheStates(t), &refresh.State{}) // an account whose ID is not known yet
	h := newHandler(t, states, nil, HandlerOpts{})
	req := httptest.NewRequest(http.MethodGet, "/sd", nil)
	req.Host = "exporter.example:9860"
	rec := httptest.NewRecorder()
	h.SD("/custom").ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var groups []targetGroup
	if err := json.Unmarshal(rec.Body.Bytes(), &groups); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range states {
		if s.AccountID != "" {
			ids = append(ids, s.AccountID)
		}
	}
	slices.Sort(ids)
	if len(groups) != len(ids)+1 {
		t.Fatalf("%d target groups, want %d: %s", len(groups), len(ids)+1, rec.Body)
	}
	for i, g := range groups {
		if !slices.Equal(g.Targets, []string{"exporter.example:9860"}) || g.Labels["__metrics_path__"] != "/custom" {
			t.Errorf("group %d: targets %v, labels %v", i, g.Targets, g.Labels)
		}
		if i == 0 {
			if g.Labels["__param_exporter"] != "true" || g.Labels["account_id"] != "" {
				t.Errorf("exporter's group: labels %v", g.Labels)
			}
			continue
		}
		id := ids[i-1]
		if g.Labels["__param_account_id"] != id || g.Labels["account_id"] != id {
			t.Errorf("group %d: labels %v, want account %s", i, g.Labels, id)
		}
		wantName := ""
		for _, s := range states {
			if s.AccountID == id {
				wantName = s.AccountName
			}
		}
		if g.Labels[sdAccountNameLabel] != wantName {
			t.Errorf("account %s: name %q, want %q", id, g.Labels[sdAccountNameLabel], wantName)
		}
	}
}
