package ws

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"unicode"
)

func prefixes(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

// The client's address is what the trusted proxies say, walked from the
// right, and nothing a client can write itself.
func TestClientAddr(t *testing.T) {
	proxies := prefixes("127.0.0.1/32", "10.0.0.0/8", "fd00::/8")
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string
		fwd    []string
		want   string
	}{
		{"no proxy, no header", "203.0.113.5:4000", nil, nil, "203.0.113.5:4000"},
		{"untrusted peer, spoofed XFF", "203.0.113.5:4000", []string{"198.51.100.1"}, nil, "203.0.113.5:4000"},
		{"untrusted peer, spoofed Forwarded", "203.0.113.5:4000", nil, []string{"for=198.51.100.1"}, "203.0.113.5:4000"},
		{"untrusted peer inside a trusted network's IPv6 twin", "[::ffff:203.0.113.5]:4000", []string{"198.51.100.1"}, nil, "203.0.113.5:4000"},
		{"trusted proxy, no header", "127.0.0.1:5000", nil, nil, "127.0.0.1:5000"},
		{"trusted proxy, one hop", "127.0.0.1:5000", []string{"203.0.113.7"}, nil, "203.0.113.7:0"},
		{"trusted proxy as IPv4-mapped IPv6", "[::ffff:127.0.0.1]:5000", []string{"203.0.113.7"}, nil, "203.0.113.7:0"},
		{"client's own XFF left of the proxy's hop", "127.0.0.1:5000", []string{"1.1.1.1, 2.2.2.2, 203.0.113.7"}, nil, "203.0.113.7:0"},
		{"client's own XFF on its own line", "127.0.0.1:5000", []string{"1.1.1.1", "203.0.113.7"}, nil, "203.0.113.7:0"},
		{"chain of trusted proxies", "127.0.0.1:5000", []string{"203.0.113.7, 10.1.2.3, 10.9.9.9"}, nil, "203.0.113.7:0"},
		{"every hop trusted", "127.0.0.1:5000", []string{"10.1.2.3, 10.9.9.9"}, nil, "10.1.2.3:0"},
		{"client claims a trusted address left of its hop", "127.0.0.1:5000", []string{"10.0.0.1, 203.0.113.7"}, nil, "203.0.113.7:0"},
		{"IPv6 client", "127.0.0.1:5000", []string{"2001:db8::7"}, nil, "[2001:db8::7]:0"},
		{"IPv6 client with a port", "127.0.0.1:5000", []string{"[2001:db8::7]:4711"}, nil, "[2001:db8::7]:4711"},
		{"IPv4 client with a port", "127.0.0.1:5000", []string{"203.0.113.7:4711"}, nil, "203.0.113.7:4711"},
		{"IPv6 trusted proxy", "[fd00::1]:5000", []string{"203.0.113.7"}, nil, "203.0.113.7:0"},
		{"garbage from the proxy", "127.0.0.1:5000", []string{"not-an-ip"}, nil, "127.0.0.1:5000"},
		{"garbage left of the client", "127.0.0.1:5000", []string{"<script>, 203.0.113.7"}, nil, "203.0.113.7:0"},
		{"garbage right of a trusted hop", "127.0.0.1:5000", []string{"203.0.113.7, 10.1.1.1, bogus"}, nil, "127.0.0.1:5000"},
		{"garbage after a trusted hop", "127.0.0.1:5000", []string{"bogus, 10.1.1.1"}, nil, "10.1.1.1:0"},
		{"empty entry", "127.0.0.1:5000", []string{"203.0.113.7, "}, nil, "127.0.0.1:5000"},
		{"zone", "127.0.0.1:5000", []string{"fe80::1%eth0"}, nil, "127.0.0.1:5000"},
		{"IPv6 with a port, no brackets", "127.0.0.1:5000", []string{"2001:db8::7:4711:99999"}, nil, "127.0.0.1:5000"},
		{"port 0 written out", "127.0.0.1:5000", []string{"203.0.113.7:0"}, nil, "127.0.0.1:5000"},
		{"port too big", "127.0.0.1:5000", []string{"203.0.113.7:65536"}, nil, "127.0.0.1:5000"},
		{"port with sign", "127.0.0.1:5000", []string{"203.0.113.7:+80"}, nil, "127.0.0.1:5000"},
		{"host name", "127.0.0.1:5000", []string{"example.com"}, nil, "127.0.0.1:5000"},
		{"Forwarded, one hop", "127.0.0.1:5000", nil, []string{"for=203.0.113.7;proto=https"}, "203.0.113.7:0"},
		{"Forwarded, case and spaces", "127.0.0.1:5000", nil, []string{"Proto=https ; FOR=203.0.113.7"}, "203.0.113.7:0"},
		{"Forwarded, IPv6 with a port", "127.0.0.1:5000", nil, []string{`for="[2001:db8:cafe::17]:4711"`}, "[2001:db8:cafe::17]:4711"},
		{"Forwarded, IPv6 without a port", "127.0.0.1:5000", nil, []string{`for="[2001:db8:cafe::17]"`}, "[2001:db8:cafe::17]:0"},
		{"Forwarded, quoted IPv4 with a port", "127.0.0.1:5000", nil, []string{`for="203.0.113.7:4711"`}, "203.0.113.7:4711"},
		{"Forwarded, escapes", "127.0.0.1:5000", nil, []string{`for="203.0.113.\7"`}, "203.0.113.7:0"},
		{"Forwarded, chain", "127.0.0.1:5000", nil, []string{"for=198.51.100.9, for=203.0.113.7;by=10.0.0.1, for=10.2.2.2"}, "203.0.113.7:0"},
		{"Forwarded, chain over lines", "127.0.0.1:5000", nil, []string{"for=198.51.100.9", "for=203.0.113.7"}, "203.0.113.7:0"},
		{"Forwarded, commas in a quoted value", "127.0.0.1:5000", nil, []string{`for=203.0.113.7;ext="a,for=1.1.1.1"`}, "203.0.113.7:0"},
		{"Forwarded, unknown", "127.0.0.1:5000", nil, []string{"for=unknown"}, "127.0.0.1:5000"},
		{"Forwarded, obfuscated", "127.0.0.1:5000", nil, []string{"for=_hidden"}, "127.0.0.1:5000"},
		{"Forwarded, element without for", "127.0.0.1:5000", nil, []string{"for=203.0.113.7, proto=https"}, "127.0.0.1:5000"},
		{"Forwarded, no closing quote", "127.0.0.1:5000", nil, []string{`for="203.0.113.7`}, "127.0.0.1:5000"},
		{"Forwarded, no value", "127.0.0.1:5000", nil, []string{"for="}, "127.0.0.1:5000"},
		{"Forwarded, no name", "127.0.0.1:5000", nil, []string{"=203.0.113.7"}, "127.0.0.1:5000"},
		{"Forwarded, trailing backslash", "127.0.0.1:5000", nil, []string{`for="203.0.113.7\`}, "127.0.0.1:5000"},
		{"Forwarded, bad line left of a good one", "127.0.0.1:5000", nil, []string{`for="x`, "for=203.0.113.7"}, "203.0.113.7:0"},
		{"both headers agree", "127.0.0.1:5000", []string{"203.0.113.7"}, []string{`for="203.0.113.7:4711"`}, "203.0.113.7:4711"},
		// nginx appends to X-Forwarded-For and passes Forwarded on from
		// the client: the client could choose who it is by writing the
		// header the proxy does not.
		{"headers disagree", "127.0.0.1:5000", []string{"203.0.113.7"}, []string{"for=198.51.100.1"}, "127.0.0.1:5000"},
		{"no proxies trusted", "127.0.0.1:5000", []string{"203.0.113.7"}, nil, "127.0.0.1:5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tc.fwd {
				r.Header.Add("Forwarded", v)
			}
			trusted := proxies
			if tc.name == "no proxies trusted" {
				trusted = nil
			}
			got, ok := ClientAddr(r, trusted)
			if !ok || got.String() != tc.want {
				t.Fatalf("ClientAddr = %v %v, want %s", got, ok, tc.want)
			}
		})
	}
}

// Many hops: only the last MaxForwardedHops are looked at, and a client
// that writes thousands of them is still the one its proxy names.
func TestClientAddrManyHops(t *testing.T) {
	proxies := prefixes("127.0.0.1/32", "10.0.0.0/8")
	junk := strings.Repeat("1.1.1.1, ", 5000)
	for _, tc := range []struct {
		name, xff, want string
	}{
		{"a client's thousands of hops", junk + "203.0.113.7", "203.0.113.7:0"},
		{"a long chain of trusted proxies", "203.0.113.7" + strings.Repeat(", 10.0.0.1", MaxForwardedHops+5), "10.0.0.1:0"},
		{"a chain of trusted proxies that fits", "203.0.113.7" + strings.Repeat(", 10.0.0.1", MaxForwardedHops-1), "203.0.113.7:0"},
	} {
		r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{"X-Forwarded-For": {tc.xff}}}
		if got, _ := ClientAddr(r, proxies); got.String() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.name, got, tc.want)
		}
	}
	r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{}}
	for i := range 5000 {
		r.Header.Add("Forwarded", fmt.Sprintf("for=1.1.%d.%d", i/256%256, i%256))
	}
	r.Header.Add("Forwarded", "for=203.0.113.7")
	if got, _ := ClientAddr(r, proxies); got.String() != "203.0.113.7:0" {
		t.Errorf("thousands of Forwarded lines: got %v", got)
	}
}

func TestClientAddrNotTCP(t *testing.T) {
	r := &http.Request{RemoteAddr: "@", Header: http.Header{"X-Forwarded-For": {"203.0.113.7"}}}
	if _, ok := ClientAddr(r, prefixes("0.0.0.0/0")); ok {
		t.Fatal("an address from a request that did not come over TCP")
	}
}

// Whatever the headers hold, ClientAddr never panics, believes them
// only from a trusted peer, and answers the connection's address or one
// a header named.
func FuzzClientAddr(f *testing.F) {
	f.Add("127.0.0.1:5000", "203.0.113.7, 10.0.0.1", `for="[2001:db8::1]:80";proto=https, for=10.0.0.2`)
	f.Add("[fd00::1]:1", "[2001:db8::7]:4711", `for=_x;by=unknown`)
	f.Add("203.0.113.5:4000", "garbage", `for="\`)
	trusted := prefixes("127.0.0.0/8", "10.0.0.0/8", "fd00::/8")
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}, "Forwarded": {fwd}}}
		got, ok := ClientAddr(r, trusted)
		peer, err := netip.ParseAddrPort(remote)
		if !ok {
			if err == nil {
				t.Fatalf("no address for a request from %q", remote)
			}
			return
		}
		if got == netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()) {
			return // the connection's own address, as the system gave it (a link-local one with its zone)
		}
		if !got.Addr().IsValid() || got.Addr().Is4In6() || got.Addr().Zone() != "" {
			t.Fatalf("ClientAddr = %v, from a header", got)
		}
		if !isTrusted(peer.Addr().Unmap(), trusted) {
			t.Fatalf("ClientAddr = %v: headers believed from %s, not a trusted proxy", got, remote)
		}
		if !strings.Contains(fwd, `\`) && !mentionsAddr(xff+","+fwd, got.Addr()) {
			t.Fatalf("ClientAddr = %v, named by neither the connection %q nor the headers %q %q", got, remote, xff, fwd)
		}
	})
}

// mentionsAddr reports whether s holds a token that parses as a.
func mentionsAddr(s string, a netip.Addr) bool {
	sep := func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`,;="[]`, r) }
	for tok := range strings.FieldsFuncSeq(s, sep) {
		if b, err := netip.ParseAddr(tok); err == nil && b.Unmap() == a {
			return true
		}
		if ap, err := netip.ParseAddrPort(tok); err == nil && ap.Addr().Unmap() == a {
			return true
		}
	}
	return false
}
