package dht

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

type fakeFinder struct {
	start      time.Time
	bootstraps int
	lookups    []time.Duration
}

func (f *fakeFinder) Bootstrap(ctx context.Context) error { f.bootstraps++; return nil }

func (f *fakeFinder) GetPeers(ctx context.Context, ih [20]byte, port int, found func(netip.AddrPort)) error {
	f.lookups = append(f.lookups, time.Since(f.start))
	found(netip.MustParseAddrPort("192.0.2.1:6881"))
	time.Sleep(3 * time.Second) // a traversal takes a while
	return nil
}

// The lookup schedule on virtual time: one bootstrap, lookups at once and
// then 2, 5, 10 and 30 s after the previous one ended, then every five
// minutes.
func TestSourceSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeFinder{start: time.Now()}
		var reports, found int
		s := &Source{node: f, Report: func(n int, err error) { reports += n }}
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
		defer cancel()
		s.Run(ctx, func(netip.AddrPort) { found++ })
		want := []time.Duration{0, 5 * time.Second, 13 * time.Second, 26 * time.Second, 59 * time.Second,
			62*time.Second + 5*time.Minute, 65*time.Second + 10*time.Minute}
		if f.bootstraps != 1 || len(f.lookups) != len(want) {
			t.Fatalf("%d bootstraps, lookups at %v, want %v", f.bootstraps, f.lookups, want)
		}
		for i := range want {
			if f.lookups[i] != want[i] {
				t.Fatalf("lookups at %v, want %v", f.lookups, want)
			}
		}
		if found != len(want) || reports != len(want) {
			t.Fatalf("found %d, reported %d", found, reports)
		}
	})
}
