package collector

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Discovery exports the outcome of the last AWS Organizations account
// listing, and of the last reading of the accounts' tags. Each stays silent
// until it has run once, so that exporters without discovery (or without
// --aws.account-tags) do not show a meaningless 0.
type Discovery struct {
	listing, tags outcome
}

// outcome is the result of the last run of a periodic call.
type outcome struct {
	ran         atomic.Bool
	ok          atomic.Bool
	lastSuccess atomic.Int64 // Unix seconds

	success, lastSuccessDesc *prometheus.Desc
}

func (o *outcome) observe(ok bool) {
	if ok {
		o.lastSuccess.Store(time.Now().Unix())
	}
	o.ok.Store(ok)
	o.ran.Store(true)
}

func (o *outcome) collect(ch chan<- prometheus.Metric) {
	if !o.ran.Load() {
		return
	}
	ch <- prometheus.MustNewConstMetric(o.success, prometheus.GaugeValue, boolValue(o.ok.Load()))
	if t := o.lastSuccess.Load(); t > 0 {
		ch <- prometheus.MustNewConstMetric(o.lastSuccessDesc, prometheus.GaugeValue, float64(t))
	}
}

var _ prometheus.Collector = (*Discovery)(nil)

// NewDiscovery returns the discovery health metrics.
func NewDiscovery() *Discovery {
	d := &Discovery{}
	d.listing.success = prometheus.NewDesc(exporter+"_account_discovery_success",
		"1 if the last listing of the organization's accounts (organizations:ListAccounts) succeeded, 0 if it failed (the previous account list is kept).", nil, nil)
	d.listing.lastSuccessDesc = prometheus.NewDesc(exporter+"_account_discovery_last_success_timestamp_seconds",
		"When the organization's accounts were last listed successfully, Unix seconds.", nil, nil)
	d.tags.success = prometheus.NewDesc(exporter+"_account_tags_success",
		"1 if the last reading of the accounts' tags (--aws.account-tags, organizations:ListTagsForResource) read every account, 0 if not (accounts not read keep their last good tags).", nil, nil)
	d.tags.lastSuccessDesc = prometheus.NewDesc(exporter+"_account_tags_last_success_timestamp_seconds",
		"When the tags of every account were last read successfully, Unix seconds.", nil, nil)
	return d
}

// Observe records the outcome of one listing.
func (d *Discovery) Observe(ok bool) { d.listing.observe(ok) }

// ObserveTags records the outcome of one reading of the accounts' tags.
func (d *Discovery) ObserveTags(ok bool) { d.tags.observe(ok) }

// Describe implements prometheus.Collector.
func (d *Discovery) Describe(ch chan<- *prometheus.Desc) {
	for _, o := range []*outcome{&d.listing, &d.tags} {
		ch <- o.success
		ch <- o.lastSuccessDesc
	}
}

// Collect implements prometheus.Collector.
func (d *Discovery) Collect(ch chan<- prometheus.Metric) {
	d.listing.collect(ch)
	d.tags.collect(ch)
}

// ConfigReload exports the outcome of the last reading of --config.file:
// at start, then on each SIGHUP. It stays silent without a config file.
// The names are those of Prometheus, Alertmanager and blackbox_exporter,
// so that an alert written for them fits.
type ConfigReload struct {
	outcome
}

var _ prometheus.Collector = (*ConfigReload)(nil)

// NewConfigReload returns the config reload metrics.
func NewConfigReload() *ConfigReload {
	r := &ConfigReload{}
	r.success = prometheus.NewDesc(exporter+"_config_last_reload_successful",
		"1 if the last reading of --config.file (at start, then on SIGHUP) was applied, 0 if it was refused and the previous accounts are kept: a file that does not parse, or one that would stop reading more than half of the accounts (see --config.allow-mass-removal). Absent without --config.file.", nil, nil)
	r.lastSuccessDesc = prometheus.NewDesc(exporter+"_config_last_reload_success_timestamp_seconds",
		"When --config.file was last read and applied, Unix seconds.", nil, nil)
	return r
}

// Observe records the outcome of one reading of the config file.
func (r *ConfigReload) Observe(ok bool) { r.observe(ok) }

// Describe implements prometheus.Collector.
func (r *ConfigReload) Describe(ch chan<- *prometheus.Desc) {
	ch <- r.success
	ch <- r.lastSuccessDesc
}

// Collect implements prometheus.Collector.
func (r *ConfigReload) Collect(ch chan<- prometheus.Metric) { r.collect(ch) }

// NewShard exports which shard this replica is, so that an alert can tell
// when replicas disagree on the number of shards or one is missing.
func NewShard(index, total int) prometheus.Collector {
	ordinal := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: exporter + "_shard_ordinal",
		Help: "This replica's shard (--shard), 0 to total_shards - 1.",
	})
	ordinal.Set(float64(index))
	shards := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: exporter + "_total_shards",
		Help: "Number of replicas that split the accounts (--total-shards).",
	})
	shards.Set(float64(total))
	return joined{ordinal, shards}
}

// joined makes fixed collectors one.
type joined []prometheus.Collector

func (c joined) Describe(ch chan<- *prometheus.Desc) {
	for _, x := range c {
		x.Describe(ch)
	}
}

func (c joined) Collect(ch chan<- prometheus.Metric) {
	for _, x := range c {
		x.Collect(ch)
	}
}
