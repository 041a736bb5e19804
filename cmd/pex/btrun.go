package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/swarm"
)

// btRun reports a running swarm: its events as they come, progress, and
// the table or summary at the end.
type btRun struct {
	s     *swarm.Swarm
	pr    *cli.Printer
	table *swarmTable
	start time.Time

	duration         time.Duration // 0: until ctx ends
	bootstrap        bool          // there were peers, trackers or the DHT to try
	bootstrapTimeout time.Duration // 0: only --duration's end checks

	connected latch // set at the first connection
	nat       *btNAT
	state     *stateKeeper // --state, or nil
	graph     *swarmGraph  // who named whom, for --http's view; nil without it
}

// errNoPeers: the swarm had somewhere to look but never connected.
var errNoPeers = errors.New("no peer connected")

// watch runs until ctx ends, --duration is over or the bootstrap deadline
// passes with no connection. It returns why the swarm failed, if it did.
func (r *btRun) watch(ctx context.Context) error {
	first := r.connected.done()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.printEvents()
	}()
	var end <-chan time.Time
	if r.duration > 0 {
		t := time.NewTimer(r.duration)
		defer t.Stop()
		end = t.C
	}
	var bootEnd <-chan time.Time
	if r.bootstrap && r.bootstrapTimeout > 0 {
		t := time.NewTimer(r.bootstrapTimeout)
		defer t.Stop()
		bootEnd = t.C
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var failed error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			if r.bootstrap && !r.everConnected() {
				failed = fmt.Errorf("%w within --duration %v: every peer, tracker and DHT lookup failed or found nobody", errNoPeers, r.duration)
			}
			break loop
		case <-bootEnd:
			if !r.everConnected() {
				failed = fmt.Errorf("%w within --bootstrap-timeout %v: every peer, tracker and DHT lookup failed or found nobody", errNoPeers, r.bootstrapTimeout)
				break loop
			}
		case <-first:
			first, bootEnd = nil, nil
		case <-tick.C:
			r.pr.Flush(false)
			if !r.pr.JSON() {
				r.pr.Text("%s", r.progress())
			}
		}
	}
	r.s.Close()
	<-done
	r.pr.Flush(true)
	r.summary(failed)
	return failed
}

func (r *btRun) everConnected() bool { return r.connected.isSet() }

// progress is the line printed every two seconds: the time run (and left
// of --duration) and the table's counts.
func (r *btRun) progress() string {
	el := time.Since(r.start).Truncate(time.Second)
	clock := "elapsed " + el.String()
	if r.duration > 0 {
		clock += ", left " + max(r.duration-el, 0).Truncate(time.Second).String()
	}
	return clock + "; " + r.table.progress(len(r.s.Peers()))
}

// summary ends the output: the table in text mode, one summary object with
// the same rows in JSON mode.
func (r *btRun) summary(failed error) {
	hp := r.s.Stats().Holepunch
	if r.pr.JSON() {
		r.pr.Event("summary", append(r.table.summaryFields(time.Since(r.start), failed), "holepunching", holepunchFields(hp))...)
		return
	}
	var sb strings.Builder
	r.table.write(&sb)
	if hp.RendezvousSent+hp.RendezvousReceived+hp.ConnectsReceived+hp.Introductions > 0 {
		fmt.Fprintf(&sb, "hole punching (BEP 55): %d peers undialable, %d reached by a punch; rendezvous %d sent, %d relayed of %d asked; connects %d received; %d introductions sent; outcomes %v\n",
			hp.Undialable, hp.Reached, hp.RendezvousSent, hp.ConnectsRelayed, hp.RendezvousReceived, hp.ConnectsReceived, hp.Introductions, hp.Outcomes)
	}
	r.pr.Text("\n%s", strings.TrimRight(sb.String(), "\n"))
}

// holepunchFields are the summary's hole punching counters (swarm.HolepunchStats).
func holepunchFields(h swarm.HolepunchStats) map[string]any {
	out := map[string]any{"undialable": h.Undialable, "reached": h.Reached, "rendezvous_sent": h.RendezvousSent,
		"rendezvous_received": h.RendezvousReceived, "connects_relayed": h.ConnectsRelayed, "connects_received": h.ConnectsReceived,
		"limited": h.Limited, "introductions": h.Introductions, "malformed": h.Malformed}
	asAny := func(m map[string]uint64) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	out["outcomes"] = asAny(h.Outcomes)
	out["errors_sent"] = asAny(h.ErrorsSent)
	out["errors_received"] = asAny(h.ErrorsReceived)
	return out
}

func (r *btRun) printEvents() {
	strs := func(as []netip.AddrPort) []string {
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.String()
		}
		return out
	}
	for ev := range r.s.Events() {
		if r.table.add(ev) {
			r.connected.set()
		}
		if r.nat != nil {
			r.nat.event(ev)
		}
		r.graph.add(ev)
		switch {
		case ev.Type == swarm.EventConnected && ev.Listen.IsValid():
			r.state.success(ev.Listen.String(), ev.Source)
		case ev.Type == swarm.EventDialFailed:
			r.state.failure(ev.Peer.String())
		}
		pr := r.pr
		switch ev.Type {
		case swarm.EventConnected:
			transport := "tcp"
			if ev.UTP {
				transport = "utp"
			}
			fields := []any{"peer", ev.Peer.String(), "client", ev.Client, "source", ev.Source, "net", netName(ev.Net), "encrypted", ev.Encrypted, "outgoing", ev.Outgoing,
				"transport", transport, "holepunch", ev.Holepunch}
			if ev.Listen.IsValid() {
				fields = append(fields, "listen", ev.Listen.String())
			}
			pr.Event("connected", fields...)
		case swarm.EventDisconnected:
			fields := []any{"peer", ev.Peer.String()}
			if ev.Err != nil {
				fields = append(fields, "reason", ev.Err.Error())
			}
			if !ev.Handshaking {
				pr.Event("disconnected", fields...)
				break
			}
			// A peer that connected to us and failed its handshakes (a
			// wrong infohash, another protocol, refused): anyone can open
			// such links, so one IP's repeats of one reason are summed up.
			fields = append(fields, "handshaking", true)
			pr.Limited("disconnected "+cli.HostOf(ev.Peer.String())+" "+cli.ErrorKind(ev.Err), "disconnected", fields...)
		case swarm.EventDialFailed:
			fields := []any{"peer", ev.Peer.String(), "source", ev.Source, "reason", errString(ev.Err)}
			if ev.Retry > 0 {
				fields = append(fields, "retry_s", cli.Seconds(ev.Retry))
			}
			// Learned addresses can be many: one source's failures are
			// summed up past a few; a manual peer's are its own.
			key := "dial-failed " + ev.Source
			if ev.Source == swarm.SourceManual {
				key += " " + ev.Peer.String()
			}
			pr.Limited(key, "dial-failed", fields...)
		case swarm.EventHolepunch:
			// One step of a hole punch (BEP 55): role, the peer punched
			// to, the relay (for a relay: the peer that asked), outcome.
			via := "relay"
			switch {
			case ev.Outcome == swarm.OutcomeIntroduced:
				via = "newcomer" // the peer named to Peer (introduce.go)
			case ev.Role == swarm.RoleRelay:
				via = "asked_by"
			}
			fields := []any{"role", ev.Role, "peer", ev.Peer.String(), via, ev.From.String(), "outcome", ev.Outcome}
			if ev.Duration > 0 {
				fields = append(fields, "took_ms", cli.Millis(ev.Duration))
			}
			if ev.Err != nil {
				fields = append(fields, "reason", ev.Err.Error())
			}
			pr.Limited("holepunch "+ev.Role+" "+ev.Outcome, "holepunch", fields...)
		case swarm.EventDiscovered:
			pr.Event("discovered", "peer", ev.Peer.String(), "source", ev.Source, "from", ev.From.String(), "net", ev.Net)
		case swarm.EventPEXReceived:
			pr.Event("pex-received", "from", ev.Peer.String(), "added_peers", strs(ev.Added), "added", strs(ev.Added), "dropped_peers", strs(ev.Dropped), "dropped", strs(ev.Dropped), "net", ev.Net)
		case swarm.EventPEXSent:
			pr.Event("pex-sent", "to", ev.Peer.String(), "added_count", len(ev.Added), "added", len(ev.Added), "dropped_count", len(ev.Dropped), "dropped", len(ev.Dropped), "net", ev.Net)
		}
	}
}
