package swarm

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// tcpPeer links to the swarm at addr over TCP as a bare peer with peer id
// id, telling listen port port and listing ut_holepunch when hp, ut_pex
// (under utPexID) when pexToo. It reads nothing back.
func tcpPeer(t *testing.T, ih [20]byte, addr netip.AddrPort, id string, port int, hp, pexToo bool) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	m := map[string]int{}
	if hp {
		m[holepunch.ExtensionName] = holepunchID
	}
	if pexToo {
		m["ut_pex"] = utPexID
	}
	ext := wire.ExtHandshake{M: m, Port: port}
	if _, err := c.Write(append(ltepHandshake(ih, id), wire.AppendExtended(nil, 0, ext.Bytes())...)); err != nil {
		t.Fatal(err)
	}
	return c
}

// readPEX reads c's messages until the ut_pex messages among them have
// named every address in want, or until limit, and returns the flags they
// gave each address named.
func readPEX(t *testing.T, c net.Conn, want []netip.AddrPort, limit time.Duration) map[netip.AddrPort]pex.Flags {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	defer c.SetReadDeadline(time.Time{})
	got := map[netip.AddrPort]pex.Flags{}
	done := func() bool {
		for _, a := range want {
			if _, ok := got[a]; !ok {
				return false
			}
		}
		return true
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	r := wire.NewReader(c, 1<<20)
	var m pex.Msg
	for !done() {
		msg, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("reading PEX: %v; named so far %v, want %v", err, got, want)
		}
		if msg.ID != wire.MsgExtended || len(msg.Payload) == 0 || msg.Payload[0] != utPexID {
			continue
		}
		if err := pex.Decode(msg.Payload[1:], &m); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Added {
			got[p.Addr] = p.Flags
		}
	}
	go io.Copy(io.Discard, c)
	return got
}

// The flags pex gives a peer in ut_pex say only what its link showed:
// 0x04 (uTP) for a peer whose link runs over uTP, 0x08 (hole punching) for
// one whose extended handshake listed ut_holepunch, 0x10 (reachable) for
// one the swarm dialed. A peer that lists ut_holepunch over TCP is not
// thereby one that speaks uTP: libtorrent lists ut_holepunch with uTP
// turned off.
func TestPEXFlagsHonest(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	ih := [20]byte{28, 5}
	x := newHPNode(t, ih, false, nil, HolepunchConfig{}, false)
	utpIn := newHPNode(t, ih, false, nil, HolepunchConfig{}, true)  // dials x over uTP
	utpOut := newHPNode(t, ih, false, nil, HolepunchConfig{}, true) // x dials it over uTP
	utpIn.s.AddPeer(x.ap, SourceManual)
	x.s.AddPeer(utpOut.ap, SourceManual)
	// Two peers over TCP telling listen ports nobody dials (x learns no
	// peer to dial: no one sends it PEX).
	tcpHP := netip.AddrPortFrom(x.ap.Addr(), 41001)
	tcpPlain := netip.AddrPortFrom(x.ap.Addr(), 41002)
	tcpPeer(t, ih, x.ap, "-XX0001-tcpholepunch", int(tcpHP.Port()), true, false)
	tcpPeer(t, ih, x.ap, "-XX0001-tcpplain0000", int(tcpPlain.Port()), false, false)
	want := []netip.AddrPort{utpIn.ap, utpOut.ap, tcpHP, tcpPlain}
	if !until(15*time.Second, func() bool {
		n := 0
		for _, p := range x.s.Peers() {
			for _, a := range want {
				if p.Listen == a {
					n++
				}
			}
		}
		return n == len(want)
	}) {
		t.Fatalf("x's links %+v, want one told at each of %v", x.s.Peers(), want)
	}
	for _, p := range x.s.Peers() {
		if (p.Listen == utpIn.ap || p.Listen == utpOut.ap) != p.UTP {
			t.Fatalf("x's link %+v: want uTP to the two swarms only", p)
		}
	}
	obs := tcpPeer(t, ih, x.ap, "-XX0001-observer0000", 0, false, true)
	got := readPEX(t, obs, want, 10*time.Second)
	const shown = pex.FlagUTP | pex.FlagHolepunch | pex.FlagReachable
	for _, tc := range []struct {
		name string
		a    netip.AddrPort
		want pex.Flags
	}{
		{"uTP link in, ut_holepunch", utpIn.ap, pex.FlagUTP | pex.FlagHolepunch},
		{"uTP link out, ut_holepunch", utpOut.ap, pex.FlagUTP | pex.FlagHolepunch | pex.FlagReachable},
		{"TCP link in, ut_holepunch", tcpHP, pex.FlagHolepunch},
		{"TCP link in, no ut_holepunch", tcpPlain, 0},
	} {
		if f := got[tc.a] & shown; f != tc.want {
			t.Errorf("%s: x's PEX flags %#02x (of 0x1c), want %#02x", tc.name, f, tc.want)
		}
	}
}

// PEX's 0x08 is a hint, and a link to the peer settles it: a peer named as
// taking hole punches whose extended handshake lists no ut_holepunch is
// not asked for through a relay when its dial fails, and PEX naming it so
// again does not bring the hint back. A peer whose link confirmed the
// flag is asked for. The link may come before the hint or after it.
func TestHolepunchHintSettledByLink(t *testing.T) {
	for _, hintFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("hint first %v", hintFirst), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				il, l := newInitiatorLab(t, HolepunchConfig{})
				ih := il.a.s.InfoHash()
				liar := netip.MustParseAddrPort("10.0.0.3:6881")
				honest := netip.MustParseAddrPort("10.0.0.4:6881")
				var r *labPeer
				if hintFirst {
					r = il.relay(l, "198.51.100.9", liar, honest)
				}
				pl := linkLabPeer(t, l, liar.Addr().String(), il.a.ap, ih, labPeerOpts{port: 6881})
				ph := linkLabPeer(t, l, honest.Addr().String(), il.a.ap, ih, labPeerOpts{holepunch: true, port: 6881})
				synctest.Wait()
				if n := len(il.a.s.Peers()); n != 2+btoi(hintFirst) {
					t.Fatalf("links %+v", il.a.s.Peers())
				}
				if !hintFirst {
					r = il.relay(l, "198.51.100.9", liar, honest)
				}
				pl.c.Close()
				ph.c.Close()
				synctest.Wait()
				il.fail(liar)
				wantAsked(t, "the peer without ut_holepunch, once gone", asked(t, r))
				il.name(r, liar, honest) // named again, flagged 0x08
				il.fail(liar, honest)
				wantAsked(t, "both, named again", asked(t, r), honest)
			})
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
