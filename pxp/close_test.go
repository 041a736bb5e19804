package pxp

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/mux"
)

// Peers that never stop sending and never close hold Exchange.Close for
// CloseDrain, all of them together, and no longer.
func TestCloseDrainBoundedAgainstHostilePeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &Config{CloseDrain: 3 * time.Second}
		e, err := New(testNet, cfg)
		if err != nil {
			t.Fatal(err)
		}
		const peers = 8
		done := make(chan struct{}, 2*peers)
		for i := range peers {
			ca, cb := memnet.Pipe(memnet.Addr("hostile"+string(rune('a'+i))), "node")
			go func() {
				e.Accept(context.Background(), cb) // fails when Close comes
				done <- struct{}{}
			}()
			rp := newRawPeer(t, ca)
			rp.start(`[1,{"pxp":true},["` + testNet + `"]]`)
			rp.readMagic()
			go func() { // a frame every 100 ms, forever; nothing read
				defer func() { done <- struct{}{} }()
				for {
					if rp.frame(0, mux.TypeDataInit, "\n") != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
		synctest.Wait()
		if n := len(e.links); n != peers {
			t.Fatalf("%d links, want %d", n, peers)
		}
		start := time.Now()
		e.Close()
		if d := time.Since(start); d != cfg.CloseDrain {
			t.Fatalf("Close returned after %v, want CloseDrain %v for all %d links together", d, cfg.CloseDrain, peers)
		}
		for range 2 * peers {
			<-done
		}
	})
}
