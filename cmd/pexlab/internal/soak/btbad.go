package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// btBadKinds are the misbehaving peers of the swarm, one after another
// in each slot:
//
//	garbage         random bytes
//	half-handshake  the first 30 bytes of a handshake, then nothing
//	silent          a connection that says nothing
//	mse-stall       96 random bytes, as a Diffie-Hellman key opening
//	                Message Stream Encryption, then nothing
//	wrong-infohash  a handshake for another torrent
//	pex-flood       a handshake, then ten ut_pex messages at once (the
//	                7th within a minute is a flood)
//	message-flood   a handshake, then 20,000 have messages at once (over
//	                the burst of 10,000)
var btBadKinds = []string{"garbage", "half-handshake", "silent", "mse-stall", "wrong-infohash", "pex-flood", "message-flood"}

// misbehave runs one misbehaving peer, of the next kind.
func (p *btPop) misbehave(ctx context.Context, rng *rand.Rand) {
	kind := btBadKinds[int(p.badRuns.Add(1)-1)%len(btBadKinds)]
	ip, ok := take(ctx, p.bads)
	if !ok {
		return
	}
	defer p.bads.give(ip)
	c, err := dialer(ip).DialContext(ctx, "tcp", p.target.String())
	if err != nil {
		sleep(ctx, time.Second)
		return
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	p.n.misbehaved.Add(1)
	c.SetWriteDeadline(time.Now().Add(badHold))
	hs := btHandshake(p.ih, fmt.Sprintf("-SB0001-%012d", rng.Uint64()%1e12), btUnreachablePort)
	switch kind {
	case "garbage":
		c.Write(garbage(rng, 4096))
	case "half-handshake":
		c.Write(hs[:30])
	case "mse-stall":
		c.Write(garbage(rng, 96))
	case "wrong-infohash":
		other := p.ih
		other[0] ^= 0xff
		c.Write(btHandshake(other, "-SB0001-000000000000", btUnreachablePort))
	case "pex-flood":
		var m pex.Msg
		payload, _ := pex.Append(nil, &m)
		b := hs
		for range 10 {
			b = wire.AppendExtended(b, 1, payload)
		}
		go c.Write(b)
	case "message-flood":
		b := hs
		for i := range 20000 {
			b = wire.AppendMessage(b, wire.MsgHave, []byte{0, 0, 0, byte(i % 4)})
		}
		go c.Write(b)
	}
	if holdUntilClosed(c, badHold) {
		p.n.cutOff.Add(1)
	}
}

// garbage is n random bytes, a misbehaving client's opening.
func garbage(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}
