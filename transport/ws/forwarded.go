// The client's address behind reverse proxies: X-Forwarded-For and
// Forwarded (RFC 7239), believed only from trusted proxies.

package ws

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// MaxForwardedHops bounds the hops of one header that are looked at: the
// rightmost ones, those the proxies nearest the server wrote. A chain of
// trusted proxies longer than this is taken to end at its leftmost kept
// hop.
const MaxForwardedHops = 32

// ClientAddr returns the address of the client that made r, behind the
// reverse proxies it came through. The connection's own address
// (r.RemoteAddr) is the answer unless it is in trusted; then the hops the
// proxies appended to X-Forwarded-For, or to Forwarded's for= parameters
// (RFC 7239), are walked from the right, each one believed only while the
// hop to its right is a trusted proxy: the first untrusted hop is the
// client. Whatever a client writes in these headers itself lies to the
// left of the hop its first proxy added, and is never reached.
//
// A hop that is not an address (garbage, RFC 7239's "unknown" or an
// obfuscated name) ends the walk at the trusted proxy that wrote it. When
// a request carries both headers and they name different clients, a
// proxy wrote one and passed the other on from the client unread (nginx
// passes Forwarded on, for one): neither is believed, and the answer is
// the connection's own address. The port is the one the header gives
// with the address (Forwarded may), else 0.
//
// ok is false only when r.RemoteAddr is not an IP address and port
// (a request that did not come over TCP).
func ClientAddr(r *http.Request, trusted []netip.Prefix) (addr netip.AddrPort, ok bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.AddrPort{}, false
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if !isTrusted(peer.Addr(), trusted) {
		return peer, true
	}
	xff, hasXFF := walk(peer, xffHops(r.Header.Values("X-Forwarded-For")), trusted)
	fwd, hasFwd := walk(peer, forwardedHops(r.Header.Values("Forwarded")), trusted)
	switch {
	case hasXFF && hasFwd:
		if xff.Addr() != fwd.Addr() {
			return peer, true
		}
		if fwd.Port() != 0 {
			return fwd, true
		}
		return xff, true
	case hasXFF:
		return xff, true
	case hasFwd:
		return fwd, true
	}
	return peer, true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// walk goes through hops from the right, starting from the trusted peer
// that sent them, while the current hop is a trusted proxy; it reports
// false when there are no hops.
func walk(peer netip.AddrPort, hops []string, trusted []netip.Prefix) (netip.AddrPort, bool) {
	if len(hops) == 0 {
		return netip.AddrPort{}, false
	}
	addr := peer
	for i := len(hops) - 1; i >= 0 && isTrusted(addr.Addr(), trusted); i-- {
		h, ok := parseHop(hops[i])
		if !ok {
			break
		}
		addr = h
	}
	return addr, true
}

// hopList keeps the last MaxForwardedHops hops appended to it.
type hopList []string

func (l *hopList) add(h string) {
	if len(*l) == 2*MaxForwardedHops {
		*l = append((*l)[:0], (*l)[MaxForwardedHops:]...)
	}
	*l = append(*l, h)
}

func (l hopList) last() []string {
	if len(l) > MaxForwardedHops {
		return l[len(l)-MaxForwardedHops:]
	}
	return l
}

// xffHops are the entries of X-Forwarded-For's lines, in order: a list
// of addresses separated by commas, the header given on one line or many.
func xffHops(lines []string) []string {
	var hops hopList
	for _, line := range lines {
		for h := range strings.SplitSeq(line, ",") {
			hops.add(strings.TrimSpace(h))
		}
	}
	return hops.last()
}

// forwardedHops are the for= values of Forwarded's elements, in order
// (RFC 7239 section 4: elements separated by commas, pairs within one by
// semicolons, each value a token or a quoted string); an element without
// for= is a hop of unknown address (""). A line that does not parse
// makes a hop that is not an address: the walk stops there.
func forwardedHops(lines []string) []string {
	var hops hopList
	for _, line := range lines {
		forwardedLine(line, &hops)
	}
	return hops.last()
}

func forwardedLine(s string, hops *hopList) {
	forValue, inElement := "", false
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			if inElement {
				hops.add(forValue)
			}
			return
		}
		switch s[0] {
		case ',':
			if inElement {
				hops.add(forValue)
			}
			forValue, inElement = "", false
			s = s[1:]
			continue
		case ';':
			s = s[1:]
			continue
		}
		inElement = true
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || !isToken(s[:eq]) {
			hops.add("!")
			return
		}
		name := s[:eq]
		value, rest, ok := forwardedValue(s[eq+1:])
		if !ok {
			hops.add("!")
			return
		}
		if strings.EqualFold(name, "for") {
			forValue = value
		}
		s = rest
	}
}

// forwardedValue reads a token or a quoted string at the start of s.
func forwardedValue(s string) (value, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if s[0] != '"' {
		i := 0
		for i < len(s) && isTokenChar(s[i]) {
			i++
		}
		if i == 0 {
			return "", "", false
		}
		return s[:i], s[i:], true
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i+1 == len(s) {
				return "", "", false
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false // no closing quote
}

// isTokenChar is RFC 7230's tchar.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// parseHop reads one hop: an IPv4 or IPv6 address, with a port or
// without, an IPv6 one in brackets when it has a port (as Forwarded
// writes it, and some proxies X-Forwarded-For). Zones, port 0 written
// out, "unknown" and obfuscated names are not addresses.
func parseHop(h string) (netip.AddrPort, bool) {
	if h == "" {
		return netip.AddrPort{}, false
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(a.Unmap(), 0), true
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") { // Forwarded's IPv6 without a port
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(a.Unmap(), 0), true
	}
	i := strings.LastIndexByte(h, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	host, portStr := h[:i], h[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return netip.AddrPort{}, false
		}
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return netip.AddrPort{}, false // IPv6 with a port goes in brackets
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 || len(portStr) > 5 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}
