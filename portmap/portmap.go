// Package portmap asks the home router a node sits behind for a port
// mapping, so that peers on the internet can dial it: NAT-PMP (RFC 6886,
// github.com/jackpal/go-nat-pmp) first, which answers in one round trip,
// then PCP (RFC 6887, its successor, spoken here), then UPnP IGD
// (github.com/huin/goupnp), which needs a multicast discovery and a few
// HTTP requests. A Mapping renews itself before its lease ends
// and is removed from the router by Close.
//
// It is tested against miniupnpd in a router of the NAT lab
// (internal/natlab, package nat).
package portmap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	natpmp "github.com/jackpal/go-nat-pmp"
)

// Methods a Mapping was obtained with.
const (
	MethodNATPMP = "natpmp"
	MethodPCP    = "pcp"
	MethodUPnP   = "upnp"
)

// Defaults.
const (
	// DefaultLifetime is the lease asked for; a Mapping renews at half of
	// what the router granted.
	DefaultLifetime = time.Hour
	// natpmpTimeout bounds one NAT-PMP exchange (the library retries
	// within it); discoveryTimeout bounds UPnP's search.
	natpmpTimeout    = 2 * time.Second
	discoveryTimeout = 3 * time.Second
)

// ErrNoGateway: no router answered NAT-PMP or UPnP.
var ErrNoGateway = errors.New("portmap: no router answered NAT-PMP, PCP or UPnP")

// Config tunes Map; nil means the defaults.
type Config struct {
	// Lifetime is the lease asked for. Default DefaultLifetime.
	Lifetime time.Duration
	// Description names the mapping in the router's UPnP table.
	// Default "pex".
	Description string
	// Methods are the ways tried, in order. Default NAT-PMP, then PCP
	// (for a router that speaks only NAT-PMP's successor), then UPnP.
	Methods []string
	// Logger receives debug logs; nil is silent.
	Logger *slog.Logger
}

// Mapping is a port mapped on the router.
type Mapping struct {
	Method   string         // MethodNATPMP, MethodPCP or MethodUPnP
	Protocol string         // "tcp" or "udp"
	Internal int            // the local port
	External netip.AddrPort // the router's public address and the mapped port

	cfg    Config
	proto  protocol
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	lifetime time.Duration // as granted
	err      error         // the last renewal's failure
}

// protocol is one way of asking a router.
type protocol interface {
	// add maps internal to external (0: the router picks) for lifetime and
	// returns the mapped port and the lease granted.
	add(ctx context.Context, internal, external int, lifetime time.Duration) (int, time.Duration, error)
	remove(ctx context.Context, internal, external int) error
	externalIP(ctx context.Context) (netip.Addr, error)
}

// Map maps protocol ("tcp" or "udp") port on the router, asking for the
// same external port, and keeps the mapping renewed until Close or ctx's
// end (then it is removed).
func Map(ctx context.Context, proto string, port int, cfg *Config) (*Mapping, error) {
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("portmap: protocol %q", proto)
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("portmap: port %d", port)
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Lifetime <= 0 { // zero or negative: the default
		c.Lifetime = DefaultLifetime
	}
	c.Description = cmp.Or(c.Description, "pex")
	if len(c.Methods) == 0 {
		c.Methods = []string{MethodNATPMP, MethodPCP, MethodUPnP}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	gw, err := defaultGateway()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, try := range []struct {
		method string
		make   func() (protocol, error)
	}{
		{MethodNATPMP, func() (protocol, error) {
			return &pmp{c: natpmp.NewClientWithTimeout(gw.AsSlice(), natpmpTimeout), proto: proto}, nil
		}},
		{MethodPCP, func() (protocol, error) { return newPCP(gw, proto), nil }},
		{MethodUPnP, func() (protocol, error) { return discoverUPnP(ctx, gw, proto, c.Description) }},
	} {
		if !slices.Contains(c.Methods, try.method) {
			continue
		}
		p, err := try.make()
		if err == nil {
			var m *Mapping
			if m, err = start(ctx, try.method, proto, port, p, c); err == nil {
				return m, nil
			}
		}
		c.Logger.Debug("portmap: failed", "method", try.method, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", try.method, err))
	}
	return nil, fmt.Errorf("%w (%w)", ErrNoGateway, errors.Join(errs...))
}

func start(ctx context.Context, method, proto string, port int, p protocol, c Config) (*Mapping, error) {
	ext, life, err := p.add(ctx, port, port, c.Lifetime)
	if err != nil {
		return nil, err
	}
	ip, err := p.externalIP(ctx)
	if err != nil {
		p.remove(ctx, port, ext)
		return nil, err
	}
	m := &Mapping{Method: method, Protocol: proto, Internal: port, External: netip.AddrPortFrom(ip, uint16(ext)),
		cfg: c, proto: p, lifetime: life, done: make(chan struct{})}
	var rctx context.Context
	rctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, m.cancel)
	go func() {
		defer close(m.done)
		defer stop()
		m.renew(rctx)
	}()
	return m, nil
}

// renew asks for the mapping again at half its lease, until ctx ends; then
// it removes it.
func (m *Mapping) renew(ctx context.Context) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := m.proto.remove(rctx, m.Internal, int(m.External.Port())); err != nil {
			m.cfg.Logger.Debug("portmap: removing the mapping failed", "err", err)
		}
	}()
	for {
		m.mu.Lock()
		wait := max(m.lifetime/2, time.Second)
		m.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		_, life, err := m.proto.add(ctx, m.Internal, int(m.External.Port()), m.cfg.Lifetime)
		m.mu.Lock()
		m.err = err
		if err == nil {
			m.lifetime = life
		} else {
			m.lifetime = min(m.lifetime, 30*time.Second) // try again soon
		}
		m.mu.Unlock()
		if err != nil {
			m.cfg.Logger.Debug("portmap: renewal failed", "err", err)
		}
	}
}

// Err is the last renewal's failure, or nil.
func (m *Mapping) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Close stops renewing the mapping and removes it from the router.
func (m *Mapping) Close() error {
	m.cancel()
	<-m.done
	return nil
}

// pmp asks over NAT-PMP.
type pmp struct {
	c     *natpmp.Client
	proto string
}

func (p *pmp) add(_ context.Context, internal, external int, lifetime time.Duration) (int, time.Duration, error) {
	r, err := p.c.AddPortMapping(p.proto, internal, external, int(lifetime/time.Second))
	if err != nil {
		return 0, 0, err
	}
	return int(r.MappedExternalPort), time.Duration(r.PortMappingLifetimeInSeconds) * time.Second, nil
}

func (p *pmp) remove(_ context.Context, internal, _ int) error {
	_, err := p.c.AddPortMapping(p.proto, internal, 0, 0) // a lifetime of 0 deletes it
	return err
}

func (p *pmp) externalIP(context.Context) (netip.Addr, error) {
	r, err := p.c.GetExternalAddress()
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.AddrFrom4(r.ExternalIPAddress), nil
}

// defaultGateway reads the IPv4 default route's gateway (Linux: /proc).
func defaultGateway() (netip.Addr, error) {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return netip.Addr{}, fmt.Errorf("portmap: no default gateway: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == "00000000" {
			var g uint32
			if _, err := fmt.Sscanf(f[2], "%x", &g); err == nil && g != 0 {
				return netip.AddrFrom4([4]byte{byte(g), byte(g >> 8), byte(g >> 16), byte(g >> 24)}), nil
			}
		}
	}
	return netip.Addr{}, errors.New("portmap: no default gateway")
}

// localAddrTo is this machine's address on the way to gw.
func localAddrTo(gw netip.Addr) (netip.Addr, error) {
	c, err := net.Dial("udp4", netip.AddrPortFrom(gw, 9).String()) // no packet is sent
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}
