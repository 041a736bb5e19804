package pxp

import (
	"encoding/json"
	"maps"
	"net"
	"net/netip"
	"slices"

	"github.com/seed0021ed4d/pex/pxp/wire"
)

// Observed addresses. On a direct link, a Go node tells its peer, in the
// connectInfo of its hello, the address it sees the peer at ("observed"),
// as BEP 10's yourip and libp2p's identify do; JS nodes ignore the field.
// One peer's word is not believed, or any peer could make a node advertise
// an address of the peer's choosing: an address becomes the node's
// observed address once peers at MinObservers different IP addresses have
// said it. Only public addresses count, said by peers at public addresses:
// what a peer on the same LAN sees says nothing of the internet's view.
// The connectInfo a relay forwards in getpeers answers leaves the field
// out (it was meant for the relay).

// Bounds of what is remembered of observations.
const (
	maxObservedAddrs = 16 // addresses said, and not yet agreed on
	maxObservers     = 8  // peers remembered per address
)

// observations are guarded by Exchange.mu.
type observations struct {
	by     map[netip.Addr]map[netip.Addr]bool // observed IP -> peers' IPs that said it
	agreed netip.Addr
}

// helloInfo is the connectInfo of the hello on a link whose transport is
// conn: the node's own, with "observed" on a direct link.
func (e *Exchange) helloInfo(conn net.Conn, direct bool) json.RawMessage {
	e.mu.Lock()
	fields := e.ciFields // never changed once set: SetAdvertiseAddr replaces it
	e.mu.Unlock()
	if fields == nil {
		return json.RawMessage("null")
	}
	if ap, ok := transportAddr(conn); ok && direct {
		fields = maps.Clone(fields)
		fields["observed"] = ap.String()
	}
	b, _ := json.Marshal(fields)
	return b
}

// transportAddr is conn's remote address, when it is an IP one.
func transportAddr(conn net.Conn) (netip.AddrPort, bool) {
	switch a := conn.RemoteAddr().(type) {
	case *net.TCPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	return netip.AddrPort{}, false
}

// publicIP reports whether ip is a global unicast address outside the
// private ranges.
func publicIP(ip netip.Addr) bool { return ip.IsGlobalUnicast() && !ip.IsPrivate() }

// observe records that the peer at from sees this node at seen, and
// reports the event when that makes a new address agreed on.
func (e *Exchange) observe(from, seen netip.Addr) {
	if !publicIP(from) || !publicIP(seen) {
		return
	}
	e.mu.Lock()
	o := &e.obs
	if o.by == nil {
		o.by = make(map[netip.Addr]map[netip.Addr]bool)
	}
	who := o.by[seen]
	if who == nil {
		if len(o.by) >= maxObservedAddrs {
			e.mu.Unlock()
			return
		}
		who = make(map[netip.Addr]bool)
		o.by[seen] = who
	}
	if len(who) < maxObservers {
		who[from] = true
	}
	changed := len(who) >= e.cfg.MinObservers && o.agreed != seen
	if changed {
		o.agreed = seen
	}
	e.mu.Unlock()
	if changed {
		e.cfg.Logger.Debug("pxp: observed address agreed", "addr", seen)
		e.emit(Event{Type: EventObserved})
	}
}

// Observed returns the address peers agree they see this node at (the IP
// only: what a peer sees of a node's outgoing connections is not a port it
// listens on), or the zero Addr while they do not.
func (e *Exchange) Observed() netip.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.obs.agreed
}

// SetAdvertiseAddr changes the TCP "host:port" told to peers for direct
// dials (Config.AdvertiseAddr): hellos of links opened from now on carry
// it, and Go peers already linked are told in an "info" message (JS peers
// keep what the hello said: the reference takes one hello a link). ""
// stops advertising.
func (e *Exchange) SetAdvertiseAddr(addr string) {
	e.mu.Lock()
	if e.ciFields == nil {
		e.mu.Unlock()
		return
	}
	fields := maps.Clone(e.ciFields) // helloInfo may hold the old map
	if addr == "" {
		delete(fields, "tcp")
	} else {
		fields["tcp"] = addr
	}
	e.ciFields = fields
	info, _ := json.Marshal(fields)
	tell := slices.Collect(maps.Keys(e.peers))
	e.mu.Unlock()
	for _, p := range tell {
		p.mu.Lock()
		goPeer := p.remote.dialback
		p.mu.Unlock()
		if goPeer {
			p.send(wire.CmdInfo, "0", info)
		}
	}
}

// withoutObserved is raw with no "observed" field, for forwarding a
// peer's connectInfo to others.
func withoutObserved(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return raw
	}
	if _, ok := m["observed"]; !ok {
		return raw
	}
	delete(m, "observed")
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

// onInfo takes a Go peer's new connectInfo: what it advertises for direct
// dials, and what a relay passes on of it. Only a peer on a direct link
// may send one, and only for an address on the IP the link comes from: a
// peer can advertise itself, not aim others' dials at a third party.
func (p *Peer) onInfo(m wire.Message) error {
	info := parseConnectInfo(m.Args)
	from, ok := transportAddr(p.conn)
	if !info.accepting || !ok || p.via != nil {
		return nil
	}
	if info.tcp != "" {
		ap, err := netip.ParseAddrPort(info.tcp)
		if err != nil || ap.Addr().Unmap() != from.Addr() {
			return nil
		}
	}
	p.mu.Lock()
	p.remote.tcp = info.tcp
	p.remote.raw = withoutObserved(append(json.RawMessage(nil), m.Args...))
	p.mu.Unlock()
	return nil
}
