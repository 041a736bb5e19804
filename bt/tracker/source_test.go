package tracker

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// The announce schedule on virtual time: at once with "started", then at
// the tracker's interval (never under a minute), a minute after a failure
// (still "started", since the tracker has not heard it), and nothing after
// the context ends.
func TestSourceSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		type call struct {
			at    time.Duration
			event string
		}
		var calls []call
		replies := []struct {
			interval time.Duration
			err      error
		}{
			{0, errors.New("down")}, // a failure: retried after a minute
			{30 * time.Second, nil}, // asks for 30 s: a minute it is
			{5 * time.Minute, nil},
			{5 * time.Minute, nil},
		}
		var found []netip.AddrPort
		var reports int
		s := &Source{
			URL:    "udp://192.0.2.1:6969",
			Report: func(Response, error) { reports++ },
			announce: func(ctx context.Context, a Announce) (Response, error) {
				i := len(calls)
				calls = append(calls, call{time.Since(start), a.Event})
				r := replies[min(i, len(replies)-1)]
				return Response{Interval: r.interval, Peers: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.9:6881")}}, r.err
			},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		s.Run(ctx, func(a netip.AddrPort) { found = append(found, a) })
		want := []call{{0, "started"}, {time.Minute, "started"}, {2 * time.Minute, ""}, {7 * time.Minute, ""}}
		if len(calls) != len(want) {
			t.Fatalf("calls %v, want %v", calls, want)
		}
		for i := range want {
			if calls[i] != want[i] {
				t.Fatalf("call %d: %v, want %v", i, calls[i], want[i])
			}
		}
		if len(found) != 3 || reports != 4 {
			t.Fatalf("found %d peers (want 3, none from the failure), %d reports", len(found), reports)
		}
	})
}
