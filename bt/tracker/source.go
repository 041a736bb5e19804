package tracker

import (
	"context"
	"net/netip"
	"time"
)

// Schedule of a Source.
const (
	// MinInterval is the least time between two announces to one tracker,
	// whatever interval it asks for, and the wait after a failed one.
	MinInterval = time.Minute
	// AnnounceTimeout bounds one announce.
	AnnounceTimeout = 30 * time.Second
)

// Source announces to one tracker again and again, passing on the peers it
// returns: at once with event "started", then after the interval the
// tracker asks for (at least MinInterval). It is a peer source for package
// bt/swarm (Swarm.AddSource).
type Source struct {
	// URL is the tracker's announce URL (http, https or udp).
	URL string
	// Announce is what to tell the tracker; Source sets its Event.
	Announce Announce
	// Client announces; nil means the zero Client.
	Client *Client
	// Report, when set, is told the outcome of every announce.
	Report func(Response, error)

	// announce replaces Client.Announce in tests.
	announce func(ctx context.Context, a Announce) (Response, error)
}

// Name returns "tracker".
func (s *Source) Name() string { return "tracker" }

// Run announces until ctx ends, passing each peer returned to found.
func (s *Source) Run(ctx context.Context, found func(netip.AddrPort)) {
	announce := s.announce
	if announce == nil {
		c := s.Client
		if c == nil {
			c = &Client{}
		}
		announce = func(ctx context.Context, a Announce) (Response, error) { return c.Announce(ctx, s.URL, a) }
	}
	a := s.Announce
	a.Event = "started"
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(ctx, AnnounceTimeout)
		res, err := announce(actx, a)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if s.Report != nil {
			s.Report(res, err)
		}
		wait := MinInterval
		if err == nil {
			for _, p := range res.Peers {
				found(p)
			}
			wait = max(wait, res.Interval)
			a.Event = ""
		}
		t.Reset(wait)
	}
}
