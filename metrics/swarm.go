package metrics

import (
	"encoding/hex"
	"maps"
	"strings"
	"sync"
	"unicode"

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

// Collect implements Collector: it reads each swarm's Stats and Peers.
func (c *Swarms) Collect() []Family {
	c.mu.Lock()
	ss := maps.Clone(c.swarms)
	c.mu.Unlock()
	fams := []Family{
		{Name: "pex_bt_connections", Help: "Connected peers, by PEX network and client.", Type: Gauge},
		{Name: "pex_bt_dialing", Help: "Dials in flight.", Type: Gauge},
		{Name: "pex_bt_handshaking", Help: "Incoming connections in their handshakes.", Type: Gauge},
		{Name: "pex_bt_pex_messages_total", Help: "PEX messages, by direction and network.", Type: Counter},
		{Name: "pex_bt_peers_learned_total", Help: "Peers taken into the peer set, by source.", Type: Counter},
		{Name: "pex_bt_dials_total", Help: "Dials, by outcome.", Type: Counter},
		{Name: "pex_bt_flood_disconnects_total", Help: "Peers disconnected for sending too often.", Type: Counter},
		{Name: "pex_bt_referrals_total", Help: "Peers the swarm had no room for (turned away or let go for a newcomer), told of peers it has first.", Type: Counter},
		{Name: "pex_bt_events_dropped_total", Help: "Events that found the Events channel full.", Type: Counter},
		{Name: "pex_bt_openings_total", Help: "Incoming connections at the opening gate: admitted into the handshakes (where MSE's Diffie-Hellman is answered), or refused over their IP's opening rate, before any work.", Type: Counter},
		{Name: "pex_bt_sender_wakeups_total", Help: "Firings of the links' PEX and keep-alive senders.", Type: Counter},
		{Name: "pex_bt_holepunch_total", Help: "Hole punching (BEP 55), by event: undialable (dials failed to peers flagged as taking punches), reached (links a punch made), rendezvous_sent, rendezvous_received, connects_relayed, connects_received, limited, introductions, malformed (ut_holepunch messages dropped, the link kept).", Type: Counter},
		{Name: "pex_bt_holepunch_outcomes_total", Help: "Ends of hole punches and rendezvous, by outcome: connected, failed, no-answer, or the BEP 55 error code sent or received.", Type: Counter},
		{Name: "pex_bt_holepunch_errors_total", Help: "BEP 55 errors, by role (relay: sent to an initiator; initiator: received from a relay) and code: no-such-peer, not-connected, no-support, no-self.", Type: Counter},
	}
	conns, dialing, handshaking, pexMsgs, learned, dials, floods, referrals, dropped := &fams[0], &fams[1], &fams[2], &fams[3], &fams[4], &fams[5], &fams[6], &fams[7], &fams[8]
	openings, wakeups, hp, hpOutcomes, hpErrors := &fams[9], &fams[10], &fams[11], &fams[12], &fams[13]
	add := func(f *Family, v float64, labels ...Label) {
		f.Samples = append(f.Samples, Sample{Labels: labels, Value: v})
	}
	for ih, s := range ss {
		st := s.Stats()
		type key struct{ net, client string }
		byKey := make(map[key]int)
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
			byKey[key{net, name}]++
		}
		swarm := Label{"infohash", ih}
		for k, n := range byKey {
			add(conns, float64(n), swarm, Label{"network", k.net}, Label{"client", k.client})
		}
		add(dialing, float64(st.Dialing), swarm)
		add(handshaking, float64(st.Handshaking), swarm)
		addCounters(pexMsgs, st.PEXSent, "network", swarm, Label{"direction", "out"})
		addCounters(pexMsgs, st.PEXReceived, "network", swarm, Label{"direction", "in"})
		addCounters(learned, st.Learned, "source", swarm)
		addCounters(dials, st.Dials, "outcome", swarm)
		add(floods, float64(st.FloodDisconnects), swarm)
		add(referrals, float64(st.Referrals), swarm)
		add(dropped, float64(st.EventsDropped), swarm)
		add(openings, float64(st.OpeningsAdmitted), swarm, Label{"outcome", "admitted"})
		add(openings, float64(st.OpeningsRefused), swarm, Label{"outcome", "refused"})
		add(wakeups, float64(st.SenderWakeups), swarm)
		h := st.Holepunch
		for _, e := range []struct {
			name string
			n    uint64
		}{{"undialable", h.Undialable}, {"reached", h.Reached}, {"rendezvous_sent", h.RendezvousSent}, {"rendezvous_received", h.RendezvousReceived},
			{"connects_relayed", h.ConnectsRelayed}, {"connects_received", h.ConnectsReceived}, {"limited", h.Limited},
			{"introductions", h.Introductions}, {"malformed", h.Malformed}} {
			add(hp, float64(e.n), swarm, Label{"event", e.name})
		}
		addCounters(hpOutcomes, h.Outcomes, "outcome", swarm)
		addCounters(hpErrors, h.ErrorsSent, "code", swarm, Label{"role", "relay"})
		addCounters(hpErrors, h.ErrorsReceived, "code", swarm, Label{"role", "initiator"})
	}
	return fams
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
