package collector

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// The label that /sd gives each account's target with its name, for
// relabelling; Prometheus drops __meta_ labels after relabelling.
const sdAccountNameLabel = "__meta_iam_credential_exporter_account_name"

// targetGroup is one entry of Prometheus HTTP service discovery.
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// maxHostLen bounds the Host that /sd copies into every target: a DNS
// name has at most 253 bytes, and a port and brackets fit in the rest.
const maxHostLen = 255

// validHost says whether host is a host[:port] that /sd may advertise: a
// DNS name or IPv4 address, or a bracketed IPv6 address, with an optional
// port, at most maxHostLen bytes. So the size of /sd's answer does not
// depend on the client beyond that, and no header can inject anything.
func validHost(host string) bool {
	if host == "" || len(host) > maxHostLen {
		return false
	}
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		name, port = host[:i], host[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" {
			return false
		}
	}
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		ip, err := netip.ParseAddr(name[1 : len(name)-1])
		return err == nil && ip.Is6()
	}
	return name != "" && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == ""
}

// CheckSDAddress says why address cannot be advertised by /sd, or returns
// nil: it must be a host[:port] as validHost takes them.
func CheckSDAddress(address string) error {
	if !validHost(address) {
		return fmt.Errorf("%.300q is not a host[:port] (a DNS name, an IPv4 address or a bracketed IPv6 address, and an optional port) of at most %d bytes", address, maxHostLen)
	}
	return nil
}

// SD returns the handler of /sd: Prometheus HTTP service discovery
// (http_sd_configs) of one target for the exporter's own metrics and one
// per account /metrics serves, sorted by ID, each scraping metricsPath with
// ?exporter=true or ?account_id=. An account target carries the label
// account_id, which its series carry too (so the job needs honor_labels:
// true), and its name as a __meta_ label. An account whose ID is not known
// yet (a --report.file before its first read) is not listed.
//
// The targets' address is address, which the operator chose and
// CheckSDAddress accepted (--web.external-address), so that the answer does
// not depend on the request; when address is empty, it is the request's
// Host, the address Prometheus used to reach /sd.
func (h *Handler) SD(metricsPath, address string) http.Handler {
	return h.limitInFlight(func(*http.Request) string { return kindScoped }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := address
		if host == "" {
			host = r.Host
			if !validHost(host) {
				http.Error(w, fmt.Sprintf("/sd lists the request's Host as the targets' address; it must be host[:port] of at most %d bytes", maxHostLen), http.StatusBadRequest)
				return
			}
		}
		targets := []string{host}
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
	}))
}
