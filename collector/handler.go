package collector

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/iam-credential-exporter/iam_credential_exporter/internal/refresh"
	"github.com/iam-credential-exporter/iam_credential_exporter/report"
)

// HandlerOpts configures the telemetry handler.
type HandlerOpts struct {
	// ExporterMetrics adds the exporter's own go_*, process_* and
	// promhttp_* metrics.
	ExporterMetrics bool
	// Live are gathered on every scrape, after the accounts' metrics: the
	// exporter's counters of AWS requests, discovery and shard state, its
	// build. They must not share a name with the accounts' metrics.
	Live []prometheus.Collector
	// MaxRequestsInFlight bounds concurrent requests to the telemetry path
	// and /sd; more get a 503. Full pages may take half of them, so that the
	// other half stays for scoped requests. 0 means no bound.
	MaxRequestsInFlight int
	// ErrorLog receives gathering and encoding errors; nil drops them.
	ErrorLog promhttp.Logger
	// UserTags and AccountTags are the allow-listed tag keys, each exported
	// as a label of aws_iam_user_tags and aws_iam_account_tags; see
	// TagLabelNames.
	UserTags, AccountTags report.TagKeys
}

// Handler serves /metrics: the metrics of every account, then the live
// ones; with ?account_id=, one account's metrics alone; with
// ?exporter=true, the live ones alone. An account's metrics change only
// when its State does, and a report of thousands of users is too many to
// gather and encode on every scrape. So Update encodes each new State when
// it is published, compressed, and a scrape only copies those bytes and
// encodes the few live families.
//
// Every response is in one format, the text format 0.0.4, whatever the
// Accept header asks for (protobuf, OpenMetrics), as kube-state-metrics
// does: Prometheus 2 and 3 read it, and a second format would double the
// cache, or make the first scrape in it encode every account. name[] is
// ignored, for the same reason.
type Handler struct {
	handler  http.Handler // ServeHTTP behind the in-flight limit and instrumentation
	live     prometheus.Gatherer
	descs    *descs
	errorLog promhttp.Logger
	errors   *prometheus.CounterVec

	// slots bound the requests in flight on the telemetry path and /sd
	// together (--web.max-requests); nil for no bound. fullSlots bound the
	// full pages among them.
	slots, fullSlots chan struct{}
	refused          *prometheus.CounterVec

	view atomic.Pointer[view]
	// headers holds each family's HELP and TYPE lines, the same for every
	// account, compressed; nil until an account has the family.
	headers []atomic.Pointer[piece]
}

// NewHandler returns the telemetry handler. Pass its Update to the
// scheduler, which calls it with the accounts' states whenever one changes.
func NewHandler(opts HandlerOpts) (*Handler, error) {
	live := prometheus.NewRegistry()
	if opts.ExporterMetrics {
		opts.Live = append(opts.Live, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	descs, err := newDescs(opts.UserTags, opts.AccountTags)
	if err != nil {
		return nil, err
	}
	// The accounts' collector without states collects nothing, but
	// registered first it makes the registry refuse a live metric that
	// takes one of their names: a scrape could not tell them apart.
	if err := live.Register(descs.collector(nil)); err != nil {
		return nil, err
	}
	for _, c := range opts.Live {
		if err := live.Register(c); err != nil {
			return nil, fmt.Errorf("register live metrics: %w", err)
		}
	}
	h := &Handler{live: live, descs: descs, errorLog: opts.ErrorLog, headers: make([]atomic.Pointer[piece], len(descs.families))}
	h.view.Store(&view{})
	if n := opts.MaxRequestsInFlight; n > 0 {
		h.slots = make(chan struct{}, n)
		h.fullSlots = make(chan struct{}, fullSlots(n))
		// Counted on the exporter's own target, which a refusal of full
		// pages cannot reach; without a limit nothing is refused.
		h.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iam_credential_exporter_http_requests_refused_total",
			Help: "Requests to the telemetry path and /sd answered 503 because their share of --web.max-requests was taken, by kind: full (every account's metrics) or scoped (?account_id=, ?exporter=true, /sd).",
		}, []string{"kind"})
		for _, k := range []string{kindFull, kindScoped} {
			h.refused.WithLabelValues(k)
		}
		if err := live.Register(h.refused); err != nil {
			return nil, fmt.Errorf("register the refusals counter: %w", err)
		}
	}
	h.handler = h.limitInFlight(requestKind, http.HandlerFunc(h.serve))
	// The errors are counted as promhttp counts its own.
	h.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_errors_total",
		Help: "Total number of internal errors encountered by the promhttp metric handler.",
	}, []string{"cause"})
	if opts.ExporterMetrics {
		live.MustRegister(h.errors)
		h.handler = promhttp.InstrumentMetricHandler(live, h.handler)
	}
	return h, nil
}

// The kinds of request, for the request slots and the refusals: a full
// page (every account, megabytes to hundreds of megabytes), or a scoped
// reply (?account_id=, ?exporter=true, /sd; kilobytes to a few megabytes).
const (
	kindFull   = "full"
	kindScoped = "scoped"
)

// fullSlots is how many of n request slots full pages may take: half of
// them, at least one. The other half stays for scoped requests, which
// Prometheus's per-account and exporter targets make: no number of full
// pages, slow or idle, can refuse those.
func fullSlots(n int) int { return max(1, n/2) }

// requestKind says whether a request to the telemetry path asks for a full
// page. A request with a bad scope gets a short 400, so it counts as
// scoped.
func requestKind(r *http.Request) string {
	if id, exporter, err := parseScope(r.URL.Query()); err == nil && id == "" && !exporter {
		return kindFull
	}
	return kindScoped
}

// limitInFlight answers 503 at once when every slot is taken, as
// promhttp's MaxRequestsInFlight does, or, for a full page, when the full
// pages' share of them is, and counts the refusal by kind.
func (h *Handler) limitInFlight(kind func(*http.Request) string, next http.Handler) http.Handler {
	if h.slots == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := kind(r)
		if k == kindFull {
			select {
			case h.fullSlots <- struct{}{}:
				defer func() { <-h.fullSlots }()
			default:
				h.refused.WithLabelValues(k).Inc()
				http.Error(w, fmt.Sprintf("Limit of concurrent requests for every account's metrics reached (%d; the other %d are kept for ?%s=, ?%s=true and /sd), try again later.",
					cap(h.fullSlots), cap(h.slots)-cap(h.fullSlots), AccountIDParam, ExporterParam), http.StatusServiceUnavailable)
				return
			}
		}
		select {
		case h.slots <- struct{}{}:
			defer func() { <-h.slots }()
			next.ServeHTTP(w, r)
		default:
			h.refused.WithLabelValues(k).Inc()
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", cap(h.slots)), http.StatusServiceUnavailable)
		}
	})
}

// States returns the states that /metrics serves: those of the last Update.
// Readiness and the landing page read them too, so that they never say a
// report is loaded before a scrape can see it.
func (h *Handler) States() []*refresh.State { return h.view.Load().states }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// writers buffer responses: many pieces are small (one account's samples of
// one family), and net/http's own buffer would send each in a write of its
// own.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// Query parameters of the telemetry path that choose what it serves.
const (
	// AccountIDParam selects one account: its series and its refresh
	// health, nothing of the exporter's own.
	AccountIDParam = "account_id"
	// ExporterParam, set to "true", selects the exporter's own metrics
	// alone: build, discovery, shards, AWS requests, go_* and process_*.
	ExporterParam = "exporter"
)

// parseScope reads from the query what a request asks for: every account
// and the live metrics (the default), one account (accountID), or the live
// metrics alone (exporter); or it says why it cannot.
func parseScope(q url.Values) (accountID string, exporter bool, err error) {
	ids, exp := q[AccountIDParam], q[ExporterParam]
	switch {
	case len(ids)+len(exp) > 1:
		return "", false, fmt.Errorf("give one %s or %s=true, not %d of them", AccountIDParam, ExporterParam, len(ids)+len(exp))
	case len(exp) == 1 && exp[0] != "true":
		return "", false, fmt.Errorf("%s takes the one value true", ExporterParam)
	case len(ids) == 1 && (len(ids[0]) != 12 || strings.Trim(ids[0], "0123456789") != ""):
		return "", false, fmt.Errorf("%s must be an AWS account ID of 12 digits, got %q", AccountIDParam, ids[0])
	case len(ids) == 1:
		return ids[0], false, nil
	}
	return "", len(exp) == 1, nil
}

func (h *Handler) serve(rsp http.ResponseWriter, req *http.Request) {
	id, exporter, err := parseScope(req.URL.Query())
	if err != nil {
		http.Error(rsp, err.Error(), http.StatusBadRequest)
		return
	}
	v := h.view.Load()
	accounts := v.accounts
	if exporter {
		accounts = nil
	}
	var live piece
	if id != "" {
		a := v.find(id)
		if a == nil {
			http.Error(rsp, fmt.Sprintf("account %s is not read by this exporter; /sd lists those it reads", id), http.StatusNotFound)
			return
		}
		accounts = []*account{a}
	} else {
		mfs, err := h.live.Gather()
		if err != nil {
			h.fail("gathering", err)
			if len(mfs) == 0 && len(accounts) == 0 {
				http.Error(rsp, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		var buf bytes.Buffer
		e := expfmt.NewEncoder(&buf, textFormat)
		for _, mf := range mfs {
			h.encodeFamily(e, &buf, mf)
		}
		live = liveDeflate.piece(buf.Bytes())
	}
	// The accounts' pieces, then the live families.
	each := func(yield func(*piece)) {
		h.eachPiece(accounts, yield)
		if live.size > 0 {
			yield(&live)
		}
	}
	gzipped := acceptsGzip(req.Header)
	rsp.Header().Add("Vary", "Accept-Encoding")
	rsp.Header().Set("Content-Type", string(textFormat))
	if gzipped {
		rsp.Header().Set("Content-Encoding", "gzip")
	}

	bw := writers.Get().(*bufio.Writer)
	defer writers.Put(bw)
	bw.Reset(rsp)
	defer bw.Reset(nil)
	if gzipped {
		writeGzip(bw, each)
	} else {
		err = inflate(bw, each)
	}
	// A bufio.Writer keeps its first error and returns it from Flush.
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		h.fail("encoding", err)
	}
}

// acceptsGzip says whether the client takes gzip: it lists gzip, without
// q=0. A client that takes gzip is sent gzip, whatever it prefers: a scrape
// of every account is ten times smaller.
func acceptsGzip(h http.Header) bool {
	for spec := range strings.SplitSeq(strings.Join(h.Values("Accept-Encoding"), ","), ",") {
		coding, params, _ := strings.Cut(spec, ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			v, err := strconv.ParseFloat(q, 64)
			return !ok || err == nil && v > 0
		}
	}
	return false
}

// encodeFamily appends mf to buf with e. On an error, which it logs and
// counts, it leaves buf as it was and returns false.
func (h *Handler) encodeFamily(e expfmt.Encoder, buf *bytes.Buffer, mf *dto.MetricFamily) bool {
	start := buf.Len()
	if err := e.Encode(mf); err != nil {
		h.fail("encoding", err)
		buf.Truncate(start)
		return false
	}
	return true
}

// fail logs an error and counts it by its cause, as promhttp does: gathering
// or encoding.
func (h *Handler) fail(cause string, err error) {
	if h.errorLog != nil {
		h.errorLog.Println("error "+cause+" metrics:", err)
	}
	h.errors.WithLabelValues(cause).Inc()
}
