package metrics

import (
	"github.com/seed0021ed4d/pex/pxp"
)

// PXP collects an Exchange's metrics.
type PXP struct {
	ex *pxp.Exchange
}

// NewPXP returns a collector for ex, for Handler (or, through package
// metrics/prom, a prometheus.Registry).
func NewPXP(ex *pxp.Exchange) *PXP { return &PXP{ex: ex} }

// Collect implements Collector: it reads the Exchange's Stats.
func (c *PXP) Collect() []Family {
	st := c.ex.Stats()
	links := Family{Name: "pex_pxp_links", Help: "PXP links past their handshake, by transport.", Type: Gauge}
	for t, n := range st.Links {
		links.Samples = append(links.Samples, Sample{Labels: []Label{{"transport", t}}, Value: float64(n)})
	}
	h := st.IntroductionSeconds
	buckets := &Buckets{Bounds: h.Bounds, Counts: make([]uint64, len(h.Bounds)), Count: h.Count, Sum: h.Sum}
	var cum uint64
	for i := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		buckets.Counts[i] = cum
	}
	return []Family{
		links,
		countersBy("pex_pxp_introductions_total", "GetNewPeer results, by the new link's transport or \"failed\".", st.Introductions, "outcome"),
		countersBy("pex_pxp_introduction_failures_total", "Failed GetNewPeer calls, by reason.", st.IntroductionFailures, "reason"),
		{Name: "pex_pxp_introduction_duration_seconds", Help: "Time GetNewPeer took, successful or not.", Type: Histogram, Samples: []Sample{{Buckets: buckets}}},
		one("pex_pxp_relays", "Relayed pairs carried now.", Gauge, float64(st.Relays)),
		one("pex_pxp_relays_started_total", "Relayed pairs this node has spliced.", Counter, float64(st.RelaysStarted)),
		one("pex_pxp_relayed_bytes_total", "Bytes carried for relayed pairs.", Counter, float64(st.RelayedBytes)),
		one("pex_pxp_getpeers_served_total", "getpeers requests answered with candidates.", Counter, float64(st.GetPeersServed)),
		countersBy("pex_pxp_protocol_errors_total", "Links closed for what their peer sent, by kind.", st.ProtocolErrors, "kind"),
		countersBy("pex_pxp_refusals_total", "Requests refused, by the limit that refused them.", st.Refusals, "limit"),
		{Name: "pex_pxp_messages_total", Help: "PXP control messages, by direction.", Type: Counter, Samples: []Sample{
			{Labels: []Label{{"direction", "in"}}, Value: float64(st.MessagesReceived)},
			{Labels: []Label{{"direction", "out"}}, Value: float64(st.MessagesSent)},
		}},
		{Name: "pex_pxp_transport_bytes_total", Help: "Bytes on the links' transports, by direction.", Type: Counter, Samples: []Sample{
			{Labels: []Label{{"direction", "in"}}, Value: float64(st.BytesReceived)},
			{Labels: []Label{{"direction", "out"}}, Value: float64(st.BytesSent)},
		}},
		one("pex_pxp_events_dropped_total", "Events that found the Events channel full.", Counter, float64(st.EventsDropped)),
	}
}

// one is a family of one unlabelled sample, or of one labelled with
// labels.
func one(name, help string, t Type, v float64, labels ...Label) Family {
	return Family{Name: name, Help: help, Type: t, Samples: []Sample{{Labels: labels, Value: v}}}
}

// countersBy is a counter family with a sample per key of m, the key
// labelled key after labels.
func countersBy(name, help string, m map[string]uint64, key string, labels ...Label) Family {
	f := Family{Name: name, Help: help, Type: Counter}
	addCounters(&f, m, key, labels...)
	return f
}

// addCounters adds countersBy's samples to f.
func addCounters(f *Family, m map[string]uint64, key string, labels ...Label) {
	for k, n := range m {
		ls := append(append([]Label(nil), labels...), Label{key, k})
		f.Samples = append(f.Samples, Sample{Labels: ls, Value: float64(n)})
	}
}
