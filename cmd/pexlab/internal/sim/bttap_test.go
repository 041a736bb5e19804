package sim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// The tap reads what an honest peer is told off the stream, in whatever
// pieces it arrives: the peers a ut_pex message names and the listen
// port of an extended handshake, past the handshake and messages it does
// not read (a keep-alive, interested, another extension, a message too
// large to keep).
func TestTapReadsPEX(t *testing.T) {
	cfg := BTConfig{Peers: 100, Seed: 1}
	cfg.defaults()
	w := newBTWorld(cfg, newAttackPlan(cfg), false, time.Now())
	var hs wire.Handshake
	stream := hs.Append(nil)
	stream = wire.AppendKeepAlive(stream)
	stream = wire.AppendMessage(stream, wire.MsgInterested, nil)
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 3}, Port: 6881}
	stream = wire.AppendExtended(stream, 0, ext.Bytes())
	stream = wire.AppendExtended(stream, 2, make([]byte, 300))          // another extension
	stream = wire.AppendMessage(stream, 7, make([]byte, tapMaxKept+10)) // a piece, say: not kept
	m := pex.Msg{Added: []pex.Peer{{Addr: nodeAddr(3, 6881)}, {Addr: nodeAddr(40, 6881)}, {Addr: attackerAddr(0, 1)}, {Addr: nodeAddr(41, 7000)}}}
	payload, err := pex.Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	stream = wire.AppendExtended(stream, tapExtPEX, payload)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		p := &btPeer{know: make(knowledge, 2)}
		tap := newTap(w, p, nodeAddr(7, 0).Addr())
		for b := stream; len(b) > 0; {
			n := min(len(b), 1+rng.IntN(200))
			if round == 0 {
				n = len(b)
			}
			tap.feed(b[:n])
			b = b[n:]
		}
		var known []int
		for i := range 100 {
			if p.know[i/64].Load()&(1<<(i%64)) != 0 {
				known = append(known, i)
			}
		}
		if len(known) != 3 || known[0] != 3 || known[1] != 7 || known[2] != 40 {
			t.Fatalf("round %d: known %v, want [3 7 40] (named 3 and 40, 7 gave its port)", round, known)
		}
	}
}
