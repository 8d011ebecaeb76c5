package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/iam-credential-exporter/iam_credential_exporter/refresh"
)

// The health endpoints.
const (
	healthyPath = "/-/healthy"
	readyPath   = "/-/ready"
)

// newHandler routes the telemetry path, the health endpoints and the
// landing page.
func newHandler(o options, metrics http.Handler, states func() []*refresh.State) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle(o.telemetryPath, metrics)
	mux.HandleFunc(healthyPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("OK\n"))
	})
	mux.HandleFunc(readyPath, func(w http.ResponseWriter, _ *http.Request) {
		for _, s := range states() {
			if s.Ready() {
				w.Write([]byte("OK\n"))
				return
			}
		}
		http.Error(w, "no credential report loaded yet", http.StatusServiceUnavailable)
	})
	landing := landingConfig(o)
	// Fail at start, not on the first visit, if the page cannot be built.
	if _, err := web.NewLandingPage(landing); err != nil {
		return nil, err
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The page shows live refresh results, so it is built per visit;
		// the landing page is not on the scrape path.
		c := landing
		c.Links = append([]web.LandingLinks(nil), landing.Links...)
		c.ExtraHTML = accountsHTML(states(), time.Now())
		page, err := web.NewLandingPage(c)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		page.ServeHTTP(w, r)
	})
	return mux, nil
}

// checkTelemetryPath refuses a path that http.ServeMux would read as a
// pattern (wildcards, a method or host), that it would never route to (an
// unclean path is redirected), or that would take the place of another
// route.
func checkTelemetryPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q must start with /, as in /metrics", p)
	case p == "/":
		return errors.New(`"/" is the landing page; use a path such as /metrics`)
	case p == healthyPath || p == readyPath:
		return fmt.Errorf("%s is the exporter's health endpoint; use a path such as /metrics", p)
	case strings.ContainsFunc(p, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("/-._~", r))
	}):
		return fmt.Errorf("%q may hold only letters, digits and the characters / - . _ ~", p)
	case path.Clean(p) != strings.TrimSuffix(p, "/"):
		return fmt.Errorf("%q is not a clean path; requests to it would be redirected to %s", p, path.Clean(p))
	}
	return nil
}

func landingConfig(o options) web.LandingConfig {
	return web.LandingConfig{
		Name:        name,
		Description: "Prometheus exporter for the AWS IAM credential report",
		Version:     version.Info(),
		Profiling:   "false",
		Links: []web.LandingLinks{
			{Address: o.telemetryPath, Text: "Metrics"},
			{Address: healthyPath, Text: "Health"},
			{Address: readyPath, Text: "Readiness", Description: "200 once a credential report is loaded"},
		},
	}
}

// The landing page inserts ExtraHTML as is, so account data is escaped here.
var accountsTemplate = template.Must(template.New("accounts").Parse(`<h3>Accounts</h3>
<table>
<tr><th>Account</th><th>Report generated</th><th>Users</th><th>Last refresh</th><th>Result</th></tr>
{{range .}}<tr><td>{{.Account}}</td><td>{{.Generated}}</td><td>{{.Users}}</td><td>{{.LastAttempt}}</td><td>{{.Result}}</td></tr>
{{end}}</table>
`))

type accountRow struct {
	Account, Generated, Users, LastAttempt, Result string
}

func accountsHTML(states []*refresh.State, now time.Time) string {
	rows := make([]accountRow, 0, len(states))
	for _, s := range states {
		row := accountRow{Account: s.AccountID, Generated: "none yet", Users: "-", LastAttempt: "not yet", Result: "pending"}
		if row.Account == "" {
			row.Account = "(unknown until the first report)"
		}
		if s.AccountName != "" {
			row.Account += " (" + s.AccountName + ")"
		}
		if s.Report != nil {
			row.Users = strconv.Itoa(len(s.Report.Users))
			if !s.Report.GeneratedAt.IsZero() {
				row.Generated = ago(s.Report.GeneratedAt, now)
			}
		}
		if !s.LastAttempt.IsZero() {
			row.LastAttempt = ago(s.LastAttempt, now)
			row.Result = "ok"
			if s.LastErr != nil {
				row.Result = "failed: " + s.LastErr.Error()
			}
		}
		rows = append(rows, row)
	}
	var buf bytes.Buffer
	if err := accountsTemplate.Execute(&buf, rows); err != nil {
		return template.HTMLEscapeString(err.Error())
	}
	return buf.String()
}

func ago(t, now time.Time) string {
	return t.UTC().Format(time.RFC3339) + " (" + now.Sub(t).Round(time.Second).String() + " ago)"
}

// serve runs the HTTP server until ctx is cancelled, then shuts it down.
func serve(ctx context.Context, handler http.Handler, flags *web.FlagConfig, logger *slog.Logger) error {
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(server, flags, logger) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return server.Shutdown(shutdownCtx)
}
