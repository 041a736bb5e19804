package swarm

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/utp"
)

// A swarm takes one uTP socket of each address family, and dials each
// family's peers over its own: an IPv6 peer is reached over uTP through
// the IPv6 socket, an IPv4 peer through the IPv4 one. A second socket of
// one family is refused.
func TestUTPSocketPerFamily(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		c.Close()
	}
	ih := [20]byte{6, 6}
	// listen opens TCP and uTP on one free port of host, a swarm serving
	// both.
	listen := func(host string) (*Swarm, netip.AddrPort) {
		t.Helper()
		network := "4"
		if strings.Contains(host, ":") {
			network = "6"
		}
		for range 50 {
			ln, err := net.Listen("tcp"+network, net.JoinHostPort(host, "0"))
			if err != nil {
				t.Fatal(err)
			}
			ap := netip.MustParseAddrPort(ln.Addr().String())
			u, err := utp.Listen("udp"+network, ap.String(), nil)
			if err != nil {
				ln.Close()
				continue
			}
			s, err := New(ih, &Config{ListenPort: int(ap.Port()), HandshakeTimeout: 2 * time.Second, NoPEX: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			go s.Serve(ln)
			if err := s.UseUTP(u); err != nil {
				t.Fatal(err)
			}
			return s, ap
		}
		t.Fatal("no port free for both TCP and UDP")
		return nil, netip.AddrPort{}
	}
	_, ap4 := listen("127.0.0.1")
	_, ap6 := listen("::1")
	s, err := New(ih, &Config{HandshakeTimeout: 2 * time.Second, NoPEX: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u4, err := utp.Listen("udp4", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	u6, err := utp.Listen("udp6", "[::1]:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UseUTP(u4); err != nil {
		t.Fatal(err)
	}
	if err := s.UseUTP(u6); err != nil {
		t.Fatal(err)
	}
	extra, err := utp.Listen("udp6", "[::1]:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UseUTP(extra); err == nil {
		t.Fatal("a second IPv6 socket was taken")
	}
	extra.Close()
	s.AddPeer(ap4, SourceManual)
	s.AddPeer(ap6, SourceManual)
	overUTP := func(ap netip.AddrPort) bool {
		for _, p := range s.Peers() {
			if p.Addr == ap && p.UTP {
				return true
			}
		}
		return false
	}
	if !until(10*time.Second, func() bool { return overUTP(ap4) && overUTP(ap6) }) {
		t.Fatalf("not linked over uTP to both families: %+v", s.Peers())
	}
}
