package swarm

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// A full swarm turns a newcomer away with a PEX message naming the peers
// it has, over either network, and the newcomer connects to one of them.
func TestFullSwarmRefersNewcomer(t *testing.T) {
	for _, noAZ := range []bool{true, false} {
		name := map[bool]string{true: "ut_pex", false: "azmp"}[noAZ]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLab(t)
				ih := [20]byte{0xb1}
				full, other := fullSwarm(t, l, ih, 1)
				newcomer := l.node("10.0.0.3", ih, Config{NoAZMP: noAZ})
				newcomer.s.AddPeer(full.addr(), SourceManual)
				ev := waitEvent(t, newcomer.s, EventPEXReceived, nil)
				if ev.Peer.Addr() != full.addr().Addr() || !slices.Contains(ev.Added, other.addr()) {
					t.Fatalf("PEX from %v naming %v, want %v naming %v", ev.Peer, ev.Added, full.addr(), other.addr())
				}
				waitEvent(t, newcomer.s, EventConnected, func(ev Event) bool { return ev.Peer == other.addr() })
				synctest.Wait()
				st := full.s.Stats()
				if st.Referrals != 1 || st.Peers != 1 {
					t.Fatalf("referrals %d, peers %d; want 1 and 1", st.Referrals, st.Peers)
				}
			})
		})
	}
}

// A turned-away peer that keeps sending while the referral lingers is
// read for ReferralLinger at most, then closed; so is one that never reads
// its referral.
func TestReferralBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xb2}
		full, other := fullSwarm(t, l, ih, 1)
		c := dialUTPex(t, l, "10.6.0.1", full, ih, "-XX0001-talkative", 7)
		stop := make(chan struct{})
		defer close(stop)
		go func() { // keep-alives, as fast as they are taken
			ka := make([]byte, 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Write(ka); err != nil {
					return
				}
			}
		}()
		start := time.Now()
		if _, err := wire.ReadHandshake(c); err != nil {
			t.Fatal(err)
		}
		r := wire.NewReader(c, 1<<20)
		var named []netip.AddrPort
		for {
			msg, err := r.ReadMessage()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Logf("link ended: %v", err)
				}
				break
			}
			if msg.ID == wire.MsgExtended && len(msg.Payload) > 0 && msg.Payload[0] == 7 {
				var m pex.Msg
				if err := pex.Decode(msg.Payload[1:], &m); err != nil {
					t.Fatal(err)
				}
				for _, p := range m.Added {
					named = append(named, p.Addr)
				}
			}
		}
		if took := time.Since(start); took > ReferralLinger+time.Second {
			t.Fatalf("the turned-away link lasted %v, want at most ReferralLinger (%v)", took, ReferralLinger)
		}
		if !slices.Contains(named, other.addr()) {
			t.Fatalf("the referral named %v, want %v", named, other.addr())
		}

		// One that never reads: its referral sits in the socket buffer and
		// the link is closed once ReferralLinger has passed.
		dialUTPex(t, l, "10.6.0.2", full, ih, "-XX0001-silent", 7)
		time.Sleep(ReferralLinger + time.Second)
		synctest.Wait()
		if st := full.s.Stats(); st.Peers != 1 || st.Handshaking != 0 || st.Referrals != 2 {
			t.Fatalf("after the referrals: %d peers, %d handshaking, %d referrals; want 1, 0 and 2", st.Peers, st.Handshaking, st.Referrals)
		}
	})
}

// The idle peer whose slot a newcomer takes leaves with a referral too,
// and its link ends once ReferralLinger has passed.
func TestEvictedPeerReferred(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xb3}
		full, other := fullSwarm(t, l, ih, 2)
		c := dialUTPex(t, l, "10.6.0.1", full, ih, "-XX0001-idle", 3)
		if _, err := wire.ReadHandshake(c); err != nil {
			t.Fatal(err)
		}
		type result struct {
			named [][]netip.AddrPort // each ut_pex message's added peers
			at    time.Time          // when the link ended
		}
		done := make(chan result, 1)
		go func() {
			var res result
			r := wire.NewReader(c, 1<<20)
			for {
				msg, err := r.ReadMessage()
				if err != nil {
					res.at = time.Now()
					done <- res
					return
				}
				if msg.ID == wire.MsgExtended && len(msg.Payload) > 0 && msg.Payload[0] == 3 {
					var m pex.Msg
					if pex.Decode(msg.Payload[1:], &m) == nil {
						var as []netip.AddrPort
						for _, p := range m.Added {
							as = append(as, p.Addr)
						}
						res.named = append(res.named, as)
					}
				}
			}
		}()
		time.Sleep(time.Minute) // its first PEX message comes; it sends none back
		synctest.Wait()
		newcomer := l.node("10.0.0.3", ih, Config{})
		newcomer.s.AddPeer(full.addr(), SourceManual)
		waitEvent(t, newcomer.s, EventConnected, nil)
		evictedAt := time.Now()
		var res result
		select {
		case res = <-done:
		case <-time.After(time.Minute):
			t.Fatal("the evicted link did not end")
		}
		if took := res.at.Sub(evictedAt); took > ReferralLinger {
			t.Fatalf("the evicted link ended %v after the newcomer came, want within %v", took, ReferralLinger)
		}
		if len(res.named) != 2 || !slices.Contains(res.named[1], other.addr()) {
			t.Fatalf("ut_pex messages naming %v; want the first one and a referral naming %v", res.named, other.addr())
		}
		synctest.Wait()
		if st := full.s.Stats(); st.Peers != 2 || st.Referrals != 1 {
			t.Fatalf("%d peers, %d referrals; want 2 and 1", st.Peers, st.Referrals)
		}
	})
}

// fullSwarm starts a swarm of room maxPeers on 10.0.0.1 that has dialed
// another on 10.0.0.2 (an outgoing peer: never evicted).
func fullSwarm(t *testing.T, l *lab, ih [20]byte, maxPeers int) (full, other *node) {
	t.Helper()
	full = l.node("10.0.0.1", ih, Config{MaxPeers: maxPeers})
	other = l.node("10.0.0.2", ih, Config{})
	full.s.AddPeer(other.addr(), SourceManual)
	waitEvent(t, full.s, EventConnected, nil)
	return full, other
}

// dialUTPex connects from ip to n as a raw peer with the given peer id
// prefix, and sends its BitTorrent handshake and an extended handshake
// offering ut_pex under id utPex (listening on 6881). The link is closed
// when the test ends.
func dialUTPex(t *testing.T, l *lab, ip string, n *node, ih [20]byte, id string, utPex int) net.Conn {
	t.Helper()
	c, err := l.dial(ip, n.addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Write(ltepHandshake(ih, id))
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": utPex}, Port: 6881}
	c.Write(wire.AppendExtended(nil, 0, ext.Bytes()))
	return c
}
