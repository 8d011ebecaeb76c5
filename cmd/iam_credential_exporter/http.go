package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/iam-credential-exporter/iam_credential_exporter/collector"
	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
)

// The health endpoints, on the main listener and on
// --web.health-listen-address.
const (
	healthyPath = "/-/healthy"
	readyPath   = "/-/ready"
	// sdPath serves Prometheus HTTP service discovery of the per-account
	// targets.
	sdPath = "/sd"
)

// shutdownTimeout bounds how long requests in flight may go on after
// SIGTERM or SIGINT. It is within Kubernetes' default grace period of 30 s
// before SIGKILL, and longer than Prometheus's default scrape timeout.
const shutdownTimeout = 15 * time.Second

// newHandler routes the telemetry path, the health endpoints and the
// landing page.
func newHandler(o options, metrics *collector.Handler) (http.Handler, error) {
	states := metrics.States
	mux := http.NewServeMux()
	mux.Handle(o.telemetryPath, metrics)
	mux.Handle(sdPath, metrics.SD(o.telemetryPath, o.externalAddress))
	addHealth(mux, states)
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

// newHealthHandler serves the health endpoints alone, for
// --web.health-listen-address.
func newHealthHandler(states func() []*refresh.State) http.Handler {
	mux := http.NewServeMux()
	addHealth(mux, states)
	return mux
}

// addHealth routes the health endpoints. Readiness stays 200 once a report
// is loaded, however old it grows: it gates traffic, and a stale report is
// still the best data there is. Staleness shows in the metrics and on the
// landing page.
func addHealth(mux *http.ServeMux, states func() []*refresh.State) {
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
}

// checkTelemetryPath refuses a path that http.ServeMux would read as a
// pattern (wildcards, a method or host), that it would not serve as given,
// or that would take the place of another route. A path must be clean: the
// mux redirects an unclean request path (such as //) to its clean form, so
// an unclean telemetry path could never be scraped although /sd advertises
// it, and a trailing slash would make the path a prefix that serves every
// path beneath it.
func checkTelemetryPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q must start with /, as in /metrics", p)
	case strings.ContainsFunc(p, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("/-._~", r))
	}):
		return fmt.Errorf("%q may hold only letters, digits and the characters / - . _ ~", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not a clean path (no //, /./, /../ or trailing /): the server would redirect its requests to %s, so it could never be scraped", p, path.Clean(p))
	case p == "/":
		return errors.New(`"/" is the landing page; use a path such as /metrics`)
	case p == healthyPath || p == readyPath:
		return fmt.Errorf("%s is the exporter's health endpoint; use a path such as /metrics", p)
	case p == sdPath:
		return fmt.Errorf("%s is the exporter's service discovery endpoint; use a path such as /metrics", p)
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
			{Address: o.telemetryPath, Text: "Metrics", Description: "every account's series and the exporter's own; ?account_id= one account's, ?exporter=true the exporter's own"},
			{Address: sdPath, Text: "Service discovery", Description: "Prometheus http_sd_configs: one target per account, and one for the exporter"},
			{Address: healthyPath, Text: "Health"},
			{Address: readyPath, Text: "Readiness", Description: "200 once a credential report is loaded, stale or not"},
		},
	}
}

// The landing page inserts ExtraHTML as is, so account data is escaped here.
var accountsTemplate = template.Must(template.New("accounts").Parse(`<h3>Accounts</h3>
<table>
<tr><th>Account</th><th>Users</th><th>Report generated</th><th>Last successful refresh</th><th>Last refresh</th><th>Result</th></tr>
{{range .}}<tr><td>{{.Account}}</td><td>{{.Users}}</td><td>{{.Generated}}</td><td>{{.LastSuccess}}</td><td>{{.LastAttempt}}</td><td>{{.Result}}</td></tr>
{{end}}</table>
<p>Each account's metrics come from the report generated at the time shown, read at its last successful refresh.
A failed refresh keeps the last good report, which grows older until a refresh succeeds; readiness stays 200 meanwhile.</p>
`))

type accountRow struct {
	Account, Users, Generated, LastSuccess, LastAttempt, Result string
}

func accountsHTML(states []*refresh.State, now time.Time) string {
	rows := make([]accountRow, 0, len(states))
	for _, s := range states {
		row := accountRow{Account: s.AccountID, Users: "-", Generated: "none yet", LastSuccess: "never", LastAttempt: "not yet", Result: "pending"}
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
		if !s.LastSuccess.IsZero() {
			row.LastSuccess = ago(s.LastSuccess, now)
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

// maxHeaderBytes bounds a request's headers (http.Server.MaxHeaderBytes).
const maxHeaderBytes = 16 << 10

// defaultWriteStall bounds how long one write of a response may wait for
// the client to read (options.writeStall): 64 KiB, the collector's buffer,
// in 5 s is 13 KB/s, far below any scraper, and the kernel's socket buffers
// absorb a reader's short pauses.
const defaultWriteStall = 5 * time.Second

// stallWriter moves the connection's write deadline before each write to
// stall from then, but never past end, the request's
// --web.write-timeout. So a reply may take as long as its size needs within
// --web.write-timeout, and a client that stops reading is cut off
// stall after the socket buffers fill, whatever the reply's size.
type stallWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
	end   time.Time
}

func (w *stallWriter) Write(p []byte) (int, error) {
	deadline := time.Now().Add(w.stall)
	if deadline.After(w.end) {
		deadline = w.end
	}
	// Only a ResponseWriter that is no connection's (a test's) cannot.
	_ = w.rc.SetWriteDeadline(deadline)
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// cutStalledWrites applies stall to the responses of next; the server's
// WriteTimeout set the first deadline, when the request was read.
func cutStalledWrites(next http.Handler, stall, writeTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), stall: stall, end: time.Now().Add(writeTimeout)}, r)
	})
}

// newServer returns an HTTP server with the exporter's timeouts. A client
// that stops reading holds its connection, and on the telemetry path its
// --web.max-requests slot, for o.writeStall once the socket buffers are full,
// and at most --web.write-timeout.
func newServer(o options, handler http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler: cutStalledWrites(handler, o.writeStall, o.writeTimeout),
		// Without a ReadHeaderTimeout, ReadTimeout bounds the headers too.
		ReadTimeout:  o.readTimeout,
		WriteTimeout: o.writeTimeout,
		IdleTimeout:  o.idleTimeout,
		// Request headers are bounded at 16 KiB instead of Go's 1 MiB: a
		// bearer token takes 4 to 8 KB, and a large Host would otherwise be
		// copied into every target of /sd.
		MaxHeaderBytes: maxHeaderBytes,
		// TLS handshake failures and other connection errors, in
		// --log.format like every other line.
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
}

// servers are the exporter's HTTP servers: the main one on
// --web.listen-address, with --web.config.file's TLS and basic auth, and the
// optional health one on the bound --web.health-listen-address.
type servers struct {
	main           *http.Server
	flags          *web.FlagConfig
	health         *http.Server // nil without --web.health-listen-address
	healthListener net.Listener
}

// serve runs the servers until ctx is cancelled, then shuts them down: no
// new connections, and requests in flight get up to shutdownTimeout to
// finish before their connections are closed. It returns nil then, and
// returns a server's error at once if one fails, such as when the main
// server cannot bind its address.
func (s *servers) serve(ctx context.Context, logger *slog.Logger) error {
	all := []*http.Server{s.main}
	errc := make(chan error, 2)
	go func() { errc <- web.ListenAndServe(s.main, s.flags, logger) }()
	if s.health != nil {
		all = append(all, s.health)
		logger.Info("serving health probes over plain HTTP", "address", s.healthListener.Addr().String(), "paths", healthyPath+" "+readyPath)
		go func() { errc <- s.health.Serve(s.healthListener) }()
	}
	select {
	case err := <-errc:
		for _, srv := range all {
			srv.Close()
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down; requests in flight may finish", "timeout", shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range all {
		wg.Go(func() {
			if err := srv.Shutdown(shutdownCtx); err != nil {
				logger.Warn("requests still in flight at the shutdown timeout; closing their connections", "timeout", shutdownTimeout, "err", err)
				srv.Close()
			}
		})
	}
	wg.Wait()
	return nil
}
