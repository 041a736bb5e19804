package swarm

import (
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/utp"
)

// Both PEX networks run over uTP, with Message Stream Encryption under
// them: two pex swarms that speak AZMP to each other (peer ids of
// -PX0001-, as BiglyBT and older pex do) and two that speak ut_pex, each
// pair linked over uTP only (TCP refused) with outgoing MSE. Each pair's
// link is encrypted and on uTP, and a third peer linked to one side is
// learned by the other through that network's PEX over the uTP link.
func TestPEXNetworksOverUTP(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	for _, tc := range []struct {
		name, prefix, net string
	}{{"azmp", "-PX0001-", NetAZMP}, {"ut_pex", "-PX0002-", NetUTPex}} {
		t.Run(tc.name, func(t *testing.T) {
			ih := [20]byte{29, byte(len(tc.name))}
			var nodes []*hpNode
			noTCP := map[uint16]bool{}
			for i := range 3 {
				n := newHPNode(t, ih, false, noTCP, HolepunchConfig{}, false, func(c *Config) {
					copy(c.PeerID[:], tc.prefix)
					copy(c.PeerID[8:], "utpnetworks")
					c.PeerID[19] = byte('a' + i)
					c.EncryptOutgoing = true
				})
				noTCP[n.ap.Port()] = true // every dial between them goes over uTP
				nodes = append(nodes, n)
			}
			a, b, c := nodes[0], nodes[1], nodes[2]
			a.s.AddPeer(b.ap, SourceManual)
			c.s.AddPeer(b.ap, SourceManual)
			if !until(15*time.Second, func() bool { _, ab := a.linkTo(b); _, cb := c.linkTo(b); return ab && cb }) {
				t.Fatalf("a and c did not link to b over uTP: a %+v, c %+v", a.s.Peers(), c.s.Peers())
			}
			p, _ := a.linkTo(b)
			if !p.UTP || !p.Encrypted || p.Net != tc.net {
				t.Fatalf("a's link to b: %+v, want uTP, encrypted, PEX over %s", p, tc.net)
			}
			// b names c to a (its first PEX message goes out at once).
			if !until(20*time.Second, func() bool { _, ok := a.linkTo(c); return ok }) {
				t.Fatalf("a never linked to c: a's stats %+v", a.s.Stats())
			}
			st := a.s.Stats()
			if st.PEXReceived[tc.net] == 0 || st.Learned[SourcePEX] == 0 {
				t.Fatalf("a's stats %+v: want PEX received over %s and c learned by it", st, tc.net)
			}
		})
	}
}
