package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// ?account_id= serves what promhttp serves over that account alone, and
// nothing of the exporter's own, to every client and in every encoding;
// name[] is ignored.
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
				compare(t, h, plain, target, a.accept, enc)
			}
		}
		all := get(t, h, target, "", "gzip")
		if filtered := get(t, h, target+"&name[]=aws_iam_user_info", "", "gzip"); !bytes.Equal(filtered.body, all.body) {
			t.Errorf("%s: a name[] filter changed the response", target)
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

// A State is encoded once, when it is published, so that no scrape encodes:
// not the first after the start, whatever it asks for, nor one without
// gzip, nor concurrent ones, which all get the same bytes. Any change of an
// account's State (a refresh, a failed one, a rename) encodes that account
// alone.
func TestCachedHandlerEncodesWhenPublished(t *testing.T) {
	states := cacheStates(t)
	h := newHandler(t, states, nil, HandlerOpts{})
	// encoded says how many accounts Update encoded since the view before:
	// it keeps the others' encodings.
	encoded := func(before *view) int {
		n := 0
		for _, a := range h.view.Load().accounts {
			if before.find(a.state.AccountID) != a {
				n++
			}
		}
		return n
	}
	if n := encoded(&view{}); n != len(states) {
		t.Fatalf("published: %d accounts encoded, want %d", n, len(states))
	}
	scrapeAll := func(target, accept, enc string) {
		t.Helper()
		bodies := make([][]byte, 10)
		var wg sync.WaitGroup
		for i := range bodies {
			wg.Go(func() { bodies[i] = get(t, h, target, accept, enc).body })
		}
		wg.Wait()
		for i := range bodies {
			if !bytes.Equal(bodies[i], bodies[0]) {
				t.Fatalf("scrape %d got other bytes than scrape 0", i)
			}
		}
	}
	published := h.view.Load()
	for _, a := range acceptHeaders {
		scrapeAll("/metrics", a.accept, "gzip")
		scrapeAll("/metrics", a.accept, "")
		scrapeAll("/metrics?account_id="+states[0].AccountID, a.accept, "")
	}
	if h.view.Load() != published {
		t.Fatal("a scrape changed the view")
	}

	// publish publishes states with account i's State changed by change,
	// and checks that it alone was encoded.
	next := states
	publish := func(what string, i int, change func(*refresh.State)) {
		t.Helper()
		before := h.view.Load()
		next = slices.Clone(next)
		if change != nil {
			s := *next[i]
			s.Refreshes++
			change(&s)
			next[i] = &s
		}
		h.Update(next)
		want := 1
		if change == nil {
			want = 0
		}
		if n := encoded(before); n != want {
			t.Errorf("%s: %d accounts encoded, want %d", what, n, want)
		}
	}
	publish("the same states again", 0, nil)
	publish("a refresh with the same report", 0, func(*refresh.State) {})
	publish("a refresh with a new report", 0, func(s *refresh.State) { s.Report = &report.Report{AccountID: s.AccountID} })
	publish("a rename", 1, func(s *refresh.State) { s.AccountName = "renamed" })
	publish("a failed refresh", 2, func(s *refresh.State) { s.Failures++; s.LastErr = errors.New("throttled") })
}

// /sd lists one target for the exporter and one per account, sorted, at
// the address Prometheus asked /sd at.
func TestSD(t *testing.T) {
	states := append(cacheStates(t), &refresh.State{}) // an account whose ID is not known yet
	h := newHandler(t, states, nil, HandlerOpts{})
	req := httptest.NewRequest(http.MethodGet, "/sd", nil)
	req.Host = "exporter.example:9860"
	rec := httptest.NewRecorder()
	h.SD("/custom", "").ServeHTTP(rec, req)
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

// With --web.external-address, /sd advertises that address whatever Host
// the request sends, a bad one included: its answer does not depend on the
// client.
func TestSDExternalAddress(t *testing.T) {
	h := newHandler(t, cacheStates(t), nil, HandlerOpts{})
	sd := h.SD("/metrics", "exporter.internal:9860")
	var want []byte
	for _, host := range []string{"exporter.internal:9860", "evil.example:443", strings.Repeat("a", 10<<10), ""} {
		req := httptest.NewRequest(http.MethodGet, "/sd", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		sd.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("Host %.40q: status %d, want 200: %s", host, rec.Code, rec.Body)
		}
		var groups []targetGroup
		if err := json.Unmarshal(rec.Body.Bytes(), &groups); err != nil {
			t.Fatal(err)
		}
		for i, g := range groups {
			if !slices.Equal(g.Targets, []string{"exporter.internal:9860"}) {
				t.Errorf("Host %.40q: group %d: targets %v, want the external address", host, i, g.Targets)
			}
		}
		if want == nil {
			want = rec.Body.Bytes()
		} else if !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("Host %.40q: the answer differs from the one to another Host", host)
		}
	}
}

// /sd advertises the request's Host only when it is a plain host[:port] of
// at most 255 bytes, so that its answer's size does not depend on the
// client; and it takes one of the telemetry path's request slots.
func TestSDRefusesBadHostsAndSharesTheRequestSlots(t *testing.T) {
	h := newHandler(t, cacheStates(t), nil, HandlerOpts{MaxRequestsInFlight: 1})
	sd := func(host string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/sd", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.SD("/metrics", "").ServeHTTP(rec, req)
		return rec
	}
	for host, want := range map[string]int{
		"exporter.example:9860":                 http.StatusOK,
		"exporter.example":                      http.StatusOK,
		"10.0.0.1:9860":                         http.StatusOK,
		"[::1]:9860":                            http.StatusOK,
		strings.Repeat("a", 250) + ".example:1": http.StatusBadRequest, // over 255 bytes
		strings.Repeat("a", 100<<10):            http.StatusBadRequest,
		"":                                      http.StatusBadRequest,
		"exporter.example:0":                    http.StatusBadRequest,
		"exporter.example:99999":                http.StatusBadRequest,
		"exporter.example:+80":                  http.StatusBadRequest,
		"evil.example/x?y":                      http.StatusBadRequest,
		`evil"],"labels":{"account_id":"1"}}]`:  http.StatusBadRequest,
		"::1":                                   http.StatusBadRequest,
		"[not-an-ip]:9860":                      http.StatusBadRequest,
	} {
		if rec := sd(host); rec.Code != want {
			t.Errorf("Host %.40q: status %d, want %d", host, rec.Code, want)
		}
	}

	h.slots <- struct{}{} // a /metrics request in flight
	if rec := sd("exporter.example:9860"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/sd with every request slot taken: status %d, want 503", rec.Code)
	}
	<-h.slots
	if rec := sd("exporter.example:9860"); rec.Code != http.StatusOK {
		t.Errorf("/sd with a free slot: status %d, want 200", rec.Code)
	}
}
