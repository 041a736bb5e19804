package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/seed0021ed4d/pex/pxp"
)

// PXP collects an Exchange's metrics.
type PXP struct {
	ex *pxp.Exchange
}

// NewPXP returns a collector for ex; register it with a
// prometheus.Registry.
func NewPXP(ex *pxp.Exchange) *PXP { return &PXP{ex: ex} }

var (
	pxpLinks        = prometheus.NewDesc("pex_pxp_links", "PXP links past their handshake, by transport.", []string{"transport"}, nil)
	pxpIntros       = prometheus.NewDesc("pex_pxp_introductions_total", "GetNewPeer results, by the new link's transport or \"failed\".", []string{"outcome"}, nil)
	pxpIntroFails   = prometheus.NewDesc("pex_pxp_introduction_failures_total", "Failed GetNewPeer calls, by reason.", []string{"reason"}, nil)
	pxpIntroSeconds = prometheus.NewDesc("pex_pxp_introduction_duration_seconds", "Time GetNewPeer took, successful or not.", nil, nil)
	pxpRelays       = prometheus.NewDesc("pex_pxp_relays", "Relayed pairs carried now.", nil, nil)
	pxpRelaysTotal  = prometheus.NewDesc("pex_pxp_relays_started_total", "Relayed pairs this node has spliced.", nil, nil)
	pxpRelayedBytes = prometheus.NewDesc("pex_pxp_relayed_bytes_total", "Bytes carried for relayed pairs.", nil, nil)
	pxpGetPeers     = prometheus.NewDesc("pex_pxp_getpeers_served_total", "getpeers requests answered with candidates.", nil, nil)
	pxpProtoErrors  = prometheus.NewDesc("pex_pxp_protocol_errors_total", "Links closed for what their peer sent, by kind.", []string{"kind"}, nil)
	pxpRefusals     = prometheus.NewDesc("pex_pxp_refusals_total", "Requests refused, by the limit that refused them.", []string{"limit"}, nil)
	pxpMessages     = prometheus.NewDesc("pex_pxp_messages_total", "PXP control messages, by direction.", []string{"direction"}, nil)
	pxpBytes        = prometheus.NewDesc("pex_pxp_transport_bytes_total", "Bytes on the links' transports, by direction.", []string{"direction"}, nil)
	pxpDropped      = prometheus.NewDesc("pex_pxp_events_dropped_total", "Events that found the Events channel full.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *PXP) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pxpLinks, pxpIntros, pxpIntroFails, pxpIntroSeconds, pxpRelays, pxpRelaysTotal,
		pxpRelayedBytes, pxpGetPeers, pxpProtoErrors, pxpRefusals, pxpMessages, pxpBytes, pxpDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PXP) Collect(ch chan<- prometheus.Metric) {
	st := c.ex.Stats()
	for t, n := range st.Links {
		ch <- prometheus.MustNewConstMetric(pxpLinks, prometheus.GaugeValue, float64(n), t)
	}
	counterMap(ch, pxpIntros, st.Introductions)
	counterMap(ch, pxpIntroFails, st.IntroductionFailures)
	ch <- histogram(pxpIntroSeconds, st.IntroductionSeconds)
	ch <- prometheus.MustNewConstMetric(pxpRelays, prometheus.GaugeValue, float64(st.Relays))
	ch <- prometheus.MustNewConstMetric(pxpRelaysTotal, prometheus.CounterValue, float64(st.RelaysStarted))
	ch <- prometheus.MustNewConstMetric(pxpRelayedBytes, prometheus.CounterValue, float64(st.RelayedBytes))
	ch <- prometheus.MustNewConstMetric(pxpGetPeers, prometheus.CounterValue, float64(st.GetPeersServed))
	counterMap(ch, pxpProtoErrors, st.ProtocolErrors)
	counterMap(ch, pxpRefusals, st.Refusals)
	ch <- prometheus.MustNewConstMetric(pxpMessages, prometheus.CounterValue, float64(st.MessagesReceived), "in")
	ch <- prometheus.MustNewConstMetric(pxpMessages, prometheus.CounterValue, float64(st.MessagesSent), "out")
	ch <- prometheus.MustNewConstMetric(pxpBytes, prometheus.CounterValue, float64(st.BytesReceived), "in")
	ch <- prometheus.MustNewConstMetric(pxpBytes, prometheus.CounterValue, float64(st.BytesSent), "out")
	ch <- prometheus.MustNewConstMetric(pxpDropped, prometheus.CounterValue, float64(st.EventsDropped))
}

// counterMap sends one counter per key of m, with the key as the last
// label after labels.
func counterMap(ch chan<- prometheus.Metric, d *prometheus.Desc, m map[string]uint64, labels ...string) {
	for k, n := range m {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), append(labels[:len(labels):len(labels)], k)...)
	}
}

// histogram turns a pxp.Histogram (counts per bucket) into Prometheus'
// cumulative form.
func histogram(d *prometheus.Desc, h pxp.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		buckets[b] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets)
}
