package pxp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp/wire"
)

// TestStatsCountIntroductions: the counters behind the metrics follow an
// introduction through a relay, a failed one, a refusal and a link closed
// for a bad message.
func TestStatsCountIntroductions(t *testing.T) {
	hub, l := star(t, 2, nil)
	b := l[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.GetNewPeer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetNewPeer(ctx); !errors.Is(err, ErrNoCandidates) {
		t.Fatalf("second GetNewPeer: %v", err)
	}
	st := b.Stats()
	if st.Introductions["relay"] != 1 || st.Introductions["failed"] != 1 || st.IntroductionFailures["no-candidates"] != 1 {
		t.Fatalf("b's introductions %v, failures %v", st.Introductions, st.IntroductionFailures)
	}
	h := st.IntroductionSeconds
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	if h.Count != 2 || n != 2 || h.Sum <= 0 || len(h.Counts) != len(h.Bounds)+1 {
		t.Fatalf("histogram %+v", h)
	}
	sum := 0
	for _, n := range st.Links {
		sum += n
	}
	if sum != st.Peers || st.Links["relay"] != 1 {
		t.Fatalf("b's links %v, peers %d", st.Links, st.Peers)
	}
	hs := hub.Stats()
	if hs.GetPeersServed != 2 || hs.RelaysStarted != 1 {
		t.Fatalf("hub served %d getpeers, started %d relays; want 2, 1", hs.GetPeersServed, hs.RelaysStarted)
	}

	// A request for an unknown candidate is refused as a bad request; a
	// message that is not PXP closes the link as a protocol error.
	rp := readyRaw(t, hub)
	nonce := rp.request(wire.CmdRelay, `["nope"]`)
	if m := rp.expect(wire.CmdRes); m.Nonce != nonce || string(m.Args) == "null" {
		t.Fatalf("relay for an unknown candidate answered %s %s", m.Nonce, m.Args)
	}
	if got := hub.Stats().Refusals["request"]; got != 1 {
		t.Fatalf("refusals %v", hub.Stats().Refusals)
	}
	rp.line(`{"not": "pxp"}`)
	rp.expectClosed()
	deadline := time.Now().Add(5 * time.Second)
	for hub.Stats().ProtocolErrors["invalid-message"] != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if pe := hub.Stats().ProtocolErrors; pe["invalid-message"] != 1 {
		t.Fatalf("protocol errors %v", pe)
	}
}

func TestFailureReason(t *testing.T) {
	for err, want := range map[error]string{
		ErrNoPeers:      "no-peers",
		ErrNoCandidates: "no-candidates",
		&RemoteError{Command: wire.CmdRelay, Message: "x"}:               "refused",
		&RemoteError{Command: wire.CmdConnect, Message: peerFullMessage}: "peer-full",
		context.DeadlineExceeded:                                         "timeout",
		ErrClosed:                                                        "closed",
		errors.New("x"):                                                  "other",
	} {
		if got := FailureReason(err); got != want {
			t.Errorf("FailureReason(%v) = %q, want %q", err, got, want)
		}
	}
}
