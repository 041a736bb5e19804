package pxp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// The direct dials of introductions, and what holds them: the TCP address
// a candidate advertises ("tcp" in its connectInfo) comes from the relay
// that names the candidate, and nothing vouches for it. Without a rule a
// relay answering every getpeers with candidates whose address names a
// victim makes every node asking it dial the victim again and again (Su
// et al., "DDoS vulnerability of BitTorrent peer exchange"); the rule is
// bt/swarm's dial policy (dialpolicy.go there): an address that did not
// answer PXP backs off, doubling, whichever relay names it, and a few
// dials an IP a window. Config.DirectDialBackoff documents the fields.

// directDials is the exchange's memory of its direct dials.
type directDials struct {
	mu      sync.Mutex
	records map[string]*directRecord // by address (dialHost's key)
	perIP   map[string]*directWindow // by IP; every name under namesHost
}

// directRecord is the backoff of one address.
type directRecord struct {
	next    time.Time // not dialed again before
	fails   int       // dials in a row that ended in no link
	dialing bool      // a dial is in progress
}

// directWindow counts the dials started to one host in a window of
// DirectDialBackoff.
type directWindow struct {
	start time.Time
	count int
}

// errDialHeld says a direct dial was not made: the address is backing off,
// or its IP has had its dials for the window.
var errDialHeld = errors.New("pxp: direct dial held back by the dial policy")

// dialAdvertised dials a candidate's advertised address when the policy
// allows, and records how the dial ended.
func (e *Exchange) dialAdvertised(ctx context.Context, addr string) (*Conn, error) {
	key, host, ok := dialHost(addr)
	if !ok {
		return nil, fmt.Errorf("pxp: unusable advertised address %q", addr)
	}
	d := &e.direct
	window, ok := d.start(&e.cfg, key, host, time.Now())
	if !ok {
		return nil, errDialHeld
	}
	c, err := e.dialDirect(ctx, addr)
	// A dial the caller gave up on, or refused for this node's own
	// limit or shutdown, says nothing of the address.
	verdict := err == nil || ctx.Err() == nil && e.ctx.Err() == nil && !errors.Is(err, ErrTooManyPeers)
	d.end(&e.cfg, key, host, window, err == nil, verdict, time.Now())
	return c, err
}

// namesHost is the host all names are counted under: a name may stand for
// any IP, and a relay can make up any number of them for one victim.
const namesHost = "(names)"

// dialHost returns the key an address's backoff is kept under (an IP's
// address in one spelling, a name's as given in lower case) and the host
// its dials are counted under: its IP, unmapped, or namesHost for a name.
func dialHost(addr string) (key, host string, ok bool) {
	h, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" || port == "" || h == "" {
		return "", "", false
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		ip = ip.Unmap().WithZone("")
		if ip.IsUnspecified() || ip.IsMulticast() {
			return "", "", false
		}
		return net.JoinHostPort(ip.String(), port), ip.String(), true
	}
	return strings.ToLower(addr), namesHost, true
}

// start decides whether addr may be dialed at now and, if so, records the
// dial and returns the start of the window it was counted in.
func (d *directDials) start(cfg *Config, addr, host string, now time.Time) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.records == nil {
		d.records = make(map[string]*directRecord)
		d.perIP = make(map[string]*directWindow)
	}
	r := d.records[addr]
	if r != nil && (r.dialing || now.Before(r.next)) {
		return time.Time{}, false
	}
	w := d.perIP[host]
	if w != nil && now.Sub(w.start) < cfg.DirectDialBackoff && w.count >= cfg.MaxDirectDialsPerIP {
		return time.Time{}, false
	}
	full := func() bool {
		return r == nil && len(d.records) >= cfg.MaxDirectDialRecords || w == nil && len(d.perIP) >= cfg.MaxDirectDialRecords
	}
	if full() {
		d.sweep(cfg, now)
		if w = d.perIP[host]; full() {
			return time.Time{}, false
		}
	}
	if r == nil {
		r = &directRecord{}
		d.records[addr] = r
	}
	r.dialing = true
	if w == nil || now.Sub(w.start) >= cfg.DirectDialBackoff {
		w = &directWindow{start: now}
		d.perIP[host] = w
	}
	w.count++
	return w.start, true
}

// end records how a dial that start allowed ended: in a PXP link (linked)
// or not. A dial without a verdict (its caller gave up) only ends.
func (d *directDials) end(cfg *Config, addr, host string, window time.Time, linked, verdict bool, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.records[addr]
	if r == nil {
		return
	}
	r.dialing = false
	switch {
	case linked:
		// The address answers PXP: it is a peer, not a victim. Its
		// record goes, and its dial gives its place in the window back.
		delete(d.records, addr)
		if w := d.perIP[host]; w != nil && w.start.Equal(window) && w.count > 0 {
			w.count--
		}
	case verdict:
		r.fails++
		r.next = now.Add(directBackoff(cfg, r.fails))
	default:
		if r.fails == 0 {
			delete(d.records, addr)
		}
	}
}

// directBackoff is the wait after fails dials in a row that ended in no
// link: DirectDialBackoff, doubling, up to MaxDirectDialBackoff.
func directBackoff(cfg *Config, fails int) time.Duration {
	b := cfg.DirectDialBackoff
	for i := 1; i < fails && b < cfg.MaxDirectDialBackoff; i++ {
		b *= 2
	}
	return min(b, cfg.MaxDirectDialBackoff)
}

// sweep forgets records and windows that no longer hold anything back.
func (d *directDials) sweep(cfg *Config, now time.Time) {
	for a, r := range d.records {
		if !r.dialing && !now.Before(r.next) {
			delete(d.records, a)
		}
	}
	for h, w := range d.perIP {
		if now.Sub(w.start) >= cfg.DirectDialBackoff {
			delete(d.perIP, h)
		}
	}
}
