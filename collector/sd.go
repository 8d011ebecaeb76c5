package collector

import (
	"encoding/json"
	"net/http"
)

// The label that /sd gives each account's target with its name, for
// relabelling; Prometheus drops __meta_ labels after relabelling.
const sdAccountNameLabel = "__meta_iam_credential_exporter_account_name"

// targetGroup is one entry of Prometheus HTTP service discovery.
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// SD returns the handler of /sd: Prometheus HTTP service discovery
// (http_sd_configs) of one target for the exporter's own metrics and one
// per account /metrics serves, sorted by ID, each scraping metricsPath at
// the address Prometheus used to reach /sd, with ?exporter=true or
// ?account_id=. An account target carries the label account_id, which its
// series carry too (so the job needs honor_labels: true), and its name as
// a __meta_ label. An account whose ID is not known yet (a --report.file
// before its first read) is not listed.
func (h *Handler) SD(metricsPath string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "" {
			http.Error(w, "the request has no Host header, which /sd lists as the targets' address", http.StatusBadRequest)
			return
		}
		targets := []string{r.Host}
		v := h.view.Load()
		groups := make([]targetGroup, 0, len(v.accounts)+1)
		groups = append(groups, targetGroup{Targets: targets, Labels: map[string]string{
			"__metrics_path__":         metricsPath,
			"__param_" + ExporterParam: "true",
		}})
		for _, a := range v.accounts {
			id := a.state.AccountID
			if id == "" {
				continue
			}
			labels := map[string]string{
				"__metrics_path__":          metricsPath,
				"__param_" + AccountIDParam: id,
				"account_id":                id,
			}
			if name := a.state.AccountName; name != "" {
				labels[sdAccountNameLabel] = name
			}
			groups = append(groups, targetGroup{Targets: targets, Labels: labels})
		}
		w.Header().Set("Content-Type", "application/json")
		// Strings alone cannot fail to encode.
		_ = json.NewEncoder(w).Encode(groups)
	})
}
