package collector

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Discovery exports the outcome of the last AWS Organizations account
// listing. It stays silent until discovery has run once, so that exporters
// without discovery do not show a meaningless 0.
type Discovery struct {
	ran         atomic.Bool
	ok          atomic.Bool
	lastSuccess atomic.Int64 // Unix seconds

	success, lastSuccessDesc *prometheus.Desc
}

var _ prometheus.Collector = (*Discovery)(nil)

// NewDiscovery returns the discovery health metrics.
func NewDiscovery() *Discovery {
	return &Discovery{
		success: prometheus.NewDesc(exporter+"_account_discovery_success",
			"1 if the last listing of the organization's accounts (organizations:ListAccounts) succeeded, 0 if it failed (the previous account list is kept).", nil, nil),
		lastSuccessDesc: prometheus.NewDesc(exporter+"_account_discovery_last_success_timestamp_seconds",
			"When the organization's accounts were last listed successfully, Unix seconds.", nil, nil),
	}
}

// Observe records the outcome of one listing.
func (d *Discovery) Observe(ok bool) {
	if ok {
		d.lastSuccess.Store(time.Now().Unix())
	}
	d.ok.Store(ok)
	d.ran.Store(true)
}

// Describe implements prometheus.Collector.
func (d *Discovery) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.success
	ch <- d.lastSuccessDesc
}

// Collect implements prometheus.Collector.
func (d *Discovery) Collect(ch chan<- prometheus.Metric) {
	if !d.ran.Load() {
		return
	}
	ch <- prometheus.MustNewConstMetric(d.success, prometheus.GaugeValue, boolValue(d.ok.Load()))
	if t := d.lastSuccess.Load(); t > 0 {
		ch <- prometheus.MustNewConstMetric(d.lastSuccessDesc, prometheus.GaugeValue, float64(t))
	}
}

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
