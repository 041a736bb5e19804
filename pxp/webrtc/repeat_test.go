package webrtc

import (
	"context"
	"testing"
	"time"
)

// Introductions one after another, each link closed before the next.
func TestRepeatedIntroductions(t *testing.T) {
	hub, b, c := newNode(t, false), newNode(t, true), newNode(t, true)
	link(t, b, hub)
	link(t, c, hub)
	go func() {
		for range c.Incoming() {
		}
	}()
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		start := time.Now()
		bc, err := b.GetNewPeer(ctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		t.Logf("round %d: %v", i, time.Since(start))
		bc.Peer().Close()
		for deadline := time.Now().Add(5 * time.Second); len(c.Peers()) > 1; {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: c still lists %d peers", i, len(c.Peers()))
			}
			time.Sleep(time.Millisecond)
		}
	}
}
