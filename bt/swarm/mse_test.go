package swarm

import (
	"io"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/wire"
)

// EncryptOutgoing: a pex node opens its link with MSE and the other side
// answers it; against a peer that cannot (a plain-only raw peer), it falls
// back to a plain handshake.
func TestEncryptOutgoing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa6}
		a := l.node("10.0.0.1", ih, Config{EncryptOutgoing: true})
		b := l.node("10.0.0.2", ih, Config{})
		a.s.AddPeer(b.addr(), SourceManual)
		if ev := waitEvent(t, a.s, EventConnected, nil); !ev.Encrypted {
			t.Fatalf("connected event says plain: %+v", ev)
		}
		synctest.Wait()
		ap, bp := a.s.Peers(), b.s.Peers()
		if len(ap) != 1 || len(bp) != 1 || !ap[0].Encrypted || !bp[0].Encrypted {
			t.Fatalf("links not encrypted: a %+v b %+v", ap, bp)
		}
		// A listener that answers only plain handshakes: the first attempt
		// (MSE) fails there, the second is plain.
		ln, err := l.nw.Listen("10.0.0.3:6881")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		attempts := make(chan bool, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(10 * time.Second))
					h, err := wire.ReadHandshake(c)
					attempts <- err == nil
					if err != nil {
						return
					}
					h.PeerID[0]++
					c.Write(h.Append(nil))
					io.Copy(io.Discard, c)
				}()
			}
		}()
		a.s.AddPeer(netip.MustParseAddrPort("10.0.0.3:6881"), SourceManual)
		next := func() bool {
			select {
			case ok := <-attempts:
				return ok
			case <-time.After(15 * time.Second):
				t.Fatal("no connection attempt")
				return false
			}
		}
		first, second := next(), next()
		if first || !second {
			t.Fatalf("attempts: MSE accepted %v, plain accepted %v", first, second)
		}
	})
}
