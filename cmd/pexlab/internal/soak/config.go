package soak

import (
	"errors"
	"fmt"
	"time"
)

// The engines a soak runs: a PXP relay (pex node) or a BitTorrent swarm
// (pex bt swarm).
const (
	EnginePXP = "pxp"
	EngineBT  = "bt"
)

// Defaults of Config.
const (
	DefaultDuration    = time.Hour
	DefaultInterval    = 5 * time.Second
	DefaultLifetime    = 20 * time.Second
	DefaultMisbehaving = 2
	DefaultWant        = 2
	DefaultAddresses   = 256
	DefaultTimersEvery = 5
	DefaultDataEvery   = 2 * time.Second
	// DefaultPXPNodes and DefaultPXPClients are the PXP relay's Go nodes
	// over TCP and its WebSocket clients (browsers).
	DefaultPXPNodes   = 16
	DefaultPXPClients = 48
	// DefaultBTNodes and DefaultBTClients are the swarm's BitTorrent
	// engines and its peers on the wire.
	DefaultBTNodes   = 24
	DefaultBTClients = 24
)

// Config is one soak. The zero value of a field means its default.
type Config struct {
	// Engine is EnginePXP or EngineBT (required).
	Engine string
	// Pex is the pex binary run as the node under test (required).
	Pex string
	// Duration is how long the population churns and the node is
	// sampled. Default 1 h.
	Duration time.Duration
	// Interval is the time between two samples. Default 5 s.
	Interval time.Duration
	// Nodes are the population's full peers, each in a slot of its own
	// that a new one takes when it leaves: for pxp, Go PXP nodes that
	// link over TCP, listen, and meet each other by direct dials; for bt,
	// BitTorrent engines (bt/swarm) that listen, exchange peers with the
	// node and each other, and dial what they learn. Default 16 (pxp),
	// 24 (bt).
	Nodes int
	// Clients are the population's light peers, in slots of their own:
	// for pxp, WebSocket clients as browsers are (they load the page,
	// link over WebSocket, take introductions as relayed sessions); for
	// bt, peers on the wire that hold a link to the node, read its PEX
	// and send their own. Default 48 (pxp), 24 (bt).
	Clients int
	// Lifetime is a member's mean stay: each stays a time drawn evenly
	// from half to one and a half of it, then leaves (a clean close, or
	// a reset for a quarter of them) and a new one joins in its slot.
	// Default 20 s.
	Lifetime time.Duration
	// Addresses is the pool of addresses members come from (pool.go):
	// each member takes the one least recently given back and returns it
	// when it leaves, and one that listens does so at memberPort of it.
	// Default 256; negative: every member at a new address (the node's
	// tables by address then fill toward their caps for hours). It must
	// hold Nodes+Clients.
	Addresses int
	// Misbehaving is how many misbehaving clients run at once, each
	// one of the kinds of misbehave.go after another. Default 2;
	// negative means none.
	Misbehaving int
	// Want is how many introductions (GetNewPeer through the relay) a
	// pxp member keeps, asking again when one leaves. Default 2.
	Want int
	// DataEvery is how often a member writes a line on each of its
	// links (the node echoes those on its own, members answer each
	// other's). Default 2 s.
	DataEvery time.Duration
	// TimersEvery is how many samples apart timers are counted: the heap
	// profile they are counted from costs the process a few hundred
	// milliseconds (heapprofile.go). Default 5, or fewer when the second
	// half of the run would hold under minTimerSamples counts.
	TimersEvery int
	// Bounds hold each metric's slope (DefaultBounds for those missing).
	Bounds map[string]Bound
	// Seed seeds the population's random choices.
	Seed uint64
	// Progress, when set, is called with every sample.
	Progress func(Sample)
}

func (c *Config) defaults() {
	nodes, clients := DefaultPXPNodes, DefaultPXPClients
	if c.Engine == EngineBT {
		nodes, clients = DefaultBTNodes, DefaultBTClients
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Duration, DefaultDuration)
	def(&c.Interval, DefaultInterval)
	def(&c.Lifetime, DefaultLifetime)
	def(&c.DataEvery, DefaultDataEvery)
	if c.Nodes == 0 {
		c.Nodes = nodes
	}
	if c.Clients == 0 {
		c.Clients = clients
	}
	if c.Addresses == 0 {
		c.Addresses = DefaultAddresses
	}
	if c.Misbehaving == 0 {
		c.Misbehaving = DefaultMisbehaving
	}
	c.Misbehaving = max(c.Misbehaving, 0)
	if c.TimersEvery == 0 {
		half := int(c.Duration / c.Interval / 2)
		c.TimersEvery = min(max(half/minTimerSamples, 1), DefaultTimersEvery)
	}
	if c.Want == 0 {
		c.Want = DefaultWant
	}
	bounds := map[string]Bound{}
	for m, b := range DefaultBounds {
		bounds[m] = b
	}
	for m, b := range c.Bounds {
		bounds[m] = b
	}
	c.Bounds = bounds
}

func (c *Config) validate() error {
	switch {
	case c.Engine != EnginePXP && c.Engine != EngineBT:
		return fmt.Errorf("soak: engine %q: pxp or bt", c.Engine)
	case c.Pex == "":
		return errors.New("soak: no pex binary")
	case c.Nodes < 0 || c.Clients < 0 || c.Nodes+c.Clients < 2:
		return fmt.Errorf("soak: %d nodes and %d clients: two members at least", c.Nodes, c.Clients)
	case c.Interval < 100*time.Millisecond:
		return fmt.Errorf("soak: interval %v: 100ms at least", c.Interval)
	case c.Duration < 2*MinSamples*c.Interval:
		return fmt.Errorf("soak: duration %v: at least %d intervals, for %d samples in its second half", c.Duration, 2*MinSamples, MinSamples)
	case c.Lifetime < time.Second:
		return fmt.Errorf("soak: lifetime %v: 1s at least", c.Lifetime)
	case c.Addresses > 0 && c.Addresses < c.Nodes+c.Clients:
		return fmt.Errorf("soak: %d addresses for %d members at once", c.Addresses, c.Nodes+c.Clients)
	case c.TimersEvery < 0:
		return fmt.Errorf("soak: timers every %d samples", c.TimersEvery)
	case c.Want < 0 || c.DataEvery < 0:
		return errors.New("soak: negative want or data interval")
	}
	return nil
}

// minTimerSamples is the fewest counts of timers the second half of a
// run should hold for TimersEvery's default: one and a half times
// MinSamples, so that a few profiles that do not come in time leave
// enough.
const minTimerSamples = 3 * MinSamples / 2

// DeparturesPerHour is the members (nodes and clients, misbehaving ones
// aside) that leave an hour, on average, once the run is under way.
func (c *Config) DeparturesPerHour() float64 {
	return float64(c.Nodes+c.Clients) * float64(time.Hour) / float64(c.Lifetime)
}

// CI is the soak CI runs (cmd/pexlab's TestSoak): two minutes of engine
// against pex, a sample every 2 s, members staying 10 s on average (twice
// the default churn, so that a leak of one object per departure stands
// well clear of a short run's noise: TestDetectorCatchesALeakPerDeparture).
func CI(engine, pex string) Config {
	return Config{Engine: engine, Pex: pex, Duration: 2 * time.Minute, Interval: 2 * time.Second, Lifetime: 10 * time.Second}
}
