package pxp

import (
	"encoding/json"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/seed0021ed4d/pex/internal/jsonscan"
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
	tmpl := e.ciHello // never changed once set: SetAdvertiseAddr replaces it
	e.mu.Unlock()
	if tmpl.whole == nil { // RefuseIncoming
		return json.RawMessage("null")
	}
	if ap, ok := transportAddr(conn); ok && direct {
		return tmpl.with(ap.String())
	}
	return tmpl.whole
}

// helloInfoTmpl is the node's connectInfo as json.Marshal writes it (keys
// in order), cut where "observed" goes, so that each direct link's hello
// is two appends rather than a map cloned and marshaled.
type helloInfoTmpl struct {
	whole      []byte // without "observed"
	head, tail []byte // the fields before "observed" and after it
}

func newHelloInfoTmpl(fields map[string]any) helloInfoTmpl {
	lo, hi := map[string]any{}, map[string]any{}
	for k, v := range fields {
		switch {
		case k < "observed":
			lo[k] = v
		case k > "observed":
			hi[k] = v
		}
	}
	whole, _ := json.Marshal(fields)
	l, _ := json.Marshal(lo)
	h, _ := json.Marshal(hi)
	t := helloInfoTmpl{whole: slices.Clip(whole), head: l[: len(l)-1 : len(l)-1], tail: []byte("}")}
	if len(lo) > 0 {
		t.head = append(t.head, ',')
	}
	if len(hi) > 0 {
		t.tail = append([]byte(","), h[1:]...)
	}
	return t
}

// appendHello appends the hello's arguments, [1, info, [network]], as
// json.Marshal writes them; info is already as Marshal writes it.
func appendHello(dst []byte, info json.RawMessage, network string) []byte {
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, wire.Version, 10)
	dst = append(dst, ',')
	dst = append(dst, info...)
	dst = append(dst, ",["...)
	dst = jsonscan.AppendString(dst, network)
	return append(dst, "]]"...)
}

// with is the connectInfo with "observed" set to observed.
func (t helloInfoTmpl) with(observed string) json.RawMessage {
	b := make([]byte, 0, len(t.head)+len(t.tail)+len(observed)+16)
	b = append(b, t.head...)
	b = append(b, `"observed":`...)
	b = jsonscan.AppendString(b, observed)
	return append(b, t.tail...)
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
	e.ciFields, e.ciHello = fields, newHelloInfoTmpl(fields)
	info := e.ciHello.whole
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
// peer's connectInfo to others: raw itself when it has none, and
// otherwise the object as json.Marshal writes it (keys in order, compact).
func withoutObserved(raw json.RawMessage) json.RawMessage {
	var kv jsonscan.Members
	if n, ok := jsonscan.ScanObject(raw, &kv); ok {
		at, ordered := -1, true
		for i, m := range kv[:n] {
			if string(m[0]) == "observed" {
				at = i
			}
			ordered = ordered && (i == 0 || string(kv[i-1][0]) < string(m[0]))
		}
		if at < 0 {
			return raw
		}
		if ordered && compactJSON(raw) {
			// As Marshal writes it already (a Go peer's hello is): cut
			// the member out.
			out := make([]byte, 0, len(raw))
			out = append(out, '{')
			for i, m := range kv[:n] {
				if i == at {
					continue
				}
				if len(out) > 1 {
					out = append(out, ',')
				}
				out = append(out, '"')
				out = append(out, m[0]...)
				out = append(out, '"', ':')
				out = append(out, m[1]...)
			}
			return append(out, '}')
		}
	}
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
	p.remote.compact = compactJSON(p.remote.raw)
	p.mu.Unlock()
	return nil
}
