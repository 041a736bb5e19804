package metrics

import (
	"encoding/hex"
	"maps"
	"strings"
	"sync"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/seed0021ed4d/pex/bt/swarm"
)

// MaxClientLabels bounds the client names a swarm's pex_bt_connections
// carries; peers with other names are counted as "other".
const MaxClientLabels = 24

// Swarms collects the metrics of BitTorrent swarms, each labelled by its
// infohash (hex): one swarm per infohash, as in a client. Add and Remove
// may be called while it is registered.
type Swarms struct {
	mu     sync.Mutex
	swarms map[string]*swarm.Swarm
}

// NewSwarms returns a collector for the given swarms.
func NewSwarms(ss ...*swarm.Swarm) *Swarms {
	c := &Swarms{swarms: make(map[string]*swarm.Swarm)}
	for _, s := range ss {
		c.Add(s)
	}
	return c
}

// Add starts collecting s, in place of a swarm of the same infohash.
func (c *Swarms) Add(s *swarm.Swarm) {
	c.mu.Lock()
	c.swarms[key(s)] = s
	c.mu.Unlock()
}

// Remove stops collecting s.
func (c *Swarms) Remove(s *swarm.Swarm) {
	c.mu.Lock()
	if c.swarms[key(s)] == s {
		delete(c.swarms, key(s))
	}
	c.mu.Unlock()
}

func key(s *swarm.Swarm) string {
	ih := s.InfoHash()
	return hex.EncodeToString(ih[:])
}

var (
	btConns       = prometheus.NewDesc("pex_bt_connections", "Connected peers, by PEX network and client.", []string{"infohash", "network", "client"}, nil)
	btDialing     = prometheus.NewDesc("pex_bt_dialing", "Dials in flight.", []string{"infohash"}, nil)
	btHandshaking = prometheus.NewDesc("pex_bt_handshaking", "Incoming connections in their handshakes.", []string{"infohash"}, nil)
	btPEX         = prometheus.NewDesc("pex_bt_pex_messages_total", "PEX messages, by direction and network.", []string{"infohash", "direction", "network"}, nil)
	btLearned     = prometheus.NewDesc("pex_bt_peers_learned_total", "Peers taken into the peer set, by source.", []string{"infohash", "source"}, nil)
	btDials       = prometheus.NewDesc("pex_bt_dials_total", "Dials, by outcome.", []string{"infohash", "outcome"}, nil)
	btFloods      = prometheus.NewDesc("pex_bt_flood_disconnects_total", "Peers disconnected for sending too often.", []string{"infohash"}, nil)
	btReferrals   = prometheus.NewDesc("pex_bt_referrals_total", "Peers the swarm had no room for (turned away or let go for a newcomer), told of peers it has first.", []string{"infohash"}, nil)
	btDropped     = prometheus.NewDesc("pex_bt_events_dropped_total", "Events that found the Events channel full.", []string{"infohash"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Swarms) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{btConns, btDialing, btHandshaking, btPEX, btLearned, btDials, btFloods, btReferrals, btDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Swarms) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ss := maps.Clone(c.swarms)
	c.mu.Unlock()
	for ih, s := range ss {
		st := s.Stats()
		type key struct{ net, client string }
		conns := make(map[key]int)
		clients := make(map[string]bool)
		for _, p := range s.Peers() {
			net := p.Net
			if net == "" {
				net = "none"
			}
			name := ClientName(p.Client)
			if !clients[name] && len(clients) >= MaxClientLabels {
				name = "other"
			}
			clients[name] = true
			conns[key{net, name}]++
		}
		for k, n := range conns {
			ch <- prometheus.MustNewConstMetric(btConns, prometheus.GaugeValue, float64(n), ih, k.net, k.client)
		}
		ch <- prometheus.MustNewConstMetric(btDialing, prometheus.GaugeValue, float64(st.Dialing), ih)
		ch <- prometheus.MustNewConstMetric(btHandshaking, prometheus.GaugeValue, float64(st.Handshaking), ih)
		counterMap(ch, btPEX, st.PEXSent, ih, "out")
		counterMap(ch, btPEX, st.PEXReceived, ih, "in")
		counterMap(ch, btLearned, st.Learned, ih)
		counterMap(ch, btDials, st.Dials, ih)
		ch <- prometheus.MustNewConstMetric(btFloods, prometheus.CounterValue, float64(st.FloodDisconnects), ih)
		ch <- prometheus.MustNewConstMetric(btReferrals, prometheus.CounterValue, float64(st.Referrals), ih)
		ch <- prometheus.MustNewConstMetric(btDropped, prometheus.CounterValue, float64(st.EventsDropped), ih)
	}
}

// ClientName is a client string without its version, fit for a label:
// "libtorrent/2.0.8.0" and "Transmission 4.0.5" become "libtorrent" and
// "Transmission"; "" becomes "unknown". It keeps at most 32 letters,
// digits, dots, dashes and underscores.
func ClientName(client string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(client), " ")
	name, _, _ = strings.Cut(name, "/")
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= 32 {
			break
		}
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
