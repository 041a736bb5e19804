// Package natlab builds a small internet in Linux network namespaces for
// tests: a public network (a bridge; addresses from the documentation
// prefix 203.0.113.0/24), public hosts on it, and home networks, each a
// host behind a router namespace whose nftables rules make it one of the
// router behaviours of RFC 4787's vocabulary. No packet leaves the lab:
// the namespaces have no link to the machine's own network.
//
// With Options.IPv6 every host is dual-stack: the public network is also
// 2001:db8::/64, and each home a routed /64 of 2001:db8:1::/48 behind its
// router, without NAT (as IPv6 homes are) but behind the router's
// stateful firewall: what a host sent out opens the way back, nothing
// else comes in (a Forward router opens its port).
//
// It needs root and the ip and nft commands. Tests call New, which skips
// the test with a clear message without root outside CI (and fails it
// under CI=true), and removes every namespace when the test ends.
package natlab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Router behaviours.
const (
	// Public: no router; the host sits on the public network.
	Public Router = iota
	// EIM: NAT with endpoint-independent mapping and address-and-port-
	// dependent filtering (Linux masquerade, which keeps a socket's port
	// for every destination): the usual home router.
	EIM
	// Forward: EIM plus a port forwarded to the host, as a user opens a
	// port by hand.
	Forward
	// Symmetric: NAT that maps each destination to a new random port
	// (masquerade random-fully), with address-and-port-dependent filtering.
	Symmetric
	// Firewall: no NAT (the host has a public address) but unsolicited
	// inbound traffic is dropped.
	Firewall
	// UPnP: EIM with miniupnpd answering UPnP IGD and NAT-PMP on the LAN
	// side, so that the host can map ports itself. Its public address is
	// in 2.0.0.0/24: miniupnpd refuses to map ports on an address of the
	// documentation prefixes. No packet leaves the lab, so the address
	// is never used for real.
	UPnP
)

// Options shape a lab; the zero value is IPv4 only.
type Options struct {
	// IPv6 gives every host an IPv6 address too (see the package doc).
	IPv6 bool
}

// Lab is one simulated internet.
type Lab struct {
	t      testing.TB
	prefix string // of every namespace name, unique to the lab
	opts   Options

	mu      sync.Mutex
	n       int      // hosts and routers made, for addresses and names
	fw      int      // Firewall homes made: each has a /28 of 198.51.100.0/24
	wans    []string // namespaces on the public network
	routed  []string // "SUBNET via ADDR" routes every public namespace needs
	names   []string // every namespace, for cleanup
	daemons []daemon // started in the lab's namespaces (miniupnpd)
}

var labs atomic.Int32

// New makes an empty IPv4 lab, or skips the test when the machine cannot.
func New(t testing.TB) *Lab {
	t.Helper()
	return NewWith(t, Options{})
}

// NewWith makes an empty lab shaped by opts, or skips the test when the
// machine cannot.
func NewWith(t testing.TB, opts Options) *Lab {
	t.Helper()
	if reason := unsupported(); reason != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("natlab: %s", reason)
		}
		t.Skipf("natlab: %s", reason)
	}
	l := &Lab{t: t, opts: opts, prefix: fmt.Sprintf("nl%d%d", os.Getpid()%10000, labs.Add(1))}
	t.Cleanup(l.close)
	l.ns(l.name("pub"))
	l.run(l.name("pub"), "ip link add br0 type bridge mcast_snooping 0") // neighbour discovery floods: no wait for MLD reports
	l.run(l.name("pub"), "ip link set br0 up")
	return l
}

func unsupported() string {
	if os.Geteuid() != 0 {
		return "needs root for network namespaces"
	}
	for _, c := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(c); err != nil {
			return c + " is not installed (Debian: iproute2, nftables)"
		}
	}
	return ""
}

func (l *Lab) name(s string) string { return l.prefix + s }

// ns makes a namespace with loopback up.
func (l *Lab) ns(name string) {
	l.mu.Lock()
	l.names = append(l.names, name)
	l.mu.Unlock()
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	if err != nil {
		l.t.Fatalf("natlab: ip netns add %s: %v: %s", name, err, out)
	}
	// No duplicate address detection: the lab hands out unique
	// addresses, and a tentative address is one nobody can use for a
	// second or two.
	l.run(name, "ip link set lo up && sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0")
}

// run runs a shell command line in namespace ns, failing the test on error.
func (l *Lab) run(ns, cmdline string) {
	l.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "sh", "-c", cmdline)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("natlab: in %s: %s: %v: %s", ns, cmdline, err, out)
	}
}

// nft loads a ruleset into namespace ns.
func (l *Lab) nft(ns, rules string) {
	l.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("natlab: nft in %s: %v: %s\n%s", ns, err, out, rules)
	}
}

// wire connects namespace ns to the public bridge with address addr/24
// (and its IPv6 twin, public6(addr)/64) and the routes public namespaces
// need.
func (l *Lab) wire(ns, ifname string, addr netip.Addr) {
	l.mu.Lock()
	l.n++
	peer := fmt.Sprintf("p%s%d", l.prefix[2:], l.n)
	if len(peer) > 15 {
		peer = peer[len(peer)-15:]
	}
	routes := append([]string(nil), l.routed...)
	l.wans = append(l.wans, ns)
	l.mu.Unlock()
	pub := l.name("pub")
	l.run(pub, fmt.Sprintf("ip link add %s type veth peer name %s netns %s && ip link set %s master br0 up", peer, ifname, ns, peer))
	l.run(ns, fmt.Sprintf("ip addr add %s/24 dev %s && ip link set %s up", addr, ifname, ifname))
	// Both public prefixes share the bridge: each is on-link for the other.
	other := "2.0.0.0/24"
	if upnpNet.Contains(addr) {
		other = "203.0.113.0/24"
	}
	l.run(ns, fmt.Sprintf("ip route add %s dev %s", other, ifname))
	if l.opts.IPv6 {
		l.run(ns, fmt.Sprintf("ip -6 addr add %s/64 dev %s nodad", public6(addr), ifname))
	}
	for _, r := range routes {
		l.run(ns, "ip route add "+r)
	}
}

// public6 is the IPv6 address on the public network of the host at
// IPv4 address a there: a's four bytes in 2001:db8::/64.
func public6(a netip.Addr) netip.Addr {
	b := a.As4()
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 10: 0, 11: 0, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
}

// home6 is address n of home i's IPv6 network, 2001:db8:1:i::/64.
func home6(i, n int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, byte(i >> 8), byte(i), 15: byte(n)})
}

// route makes every public namespace but router reach subnet through
// via, the router's public address, and remembers it for those wired
// later.
func (l *Lab) route(router, subnet string, via netip.Addr) {
	route := fmt.Sprintf("%s via %s", subnet, via)
	l.mu.Lock()
	l.routed = append(l.routed, route)
	others := append([]string(nil), l.wans...)
	l.mu.Unlock()
	for _, ns := range others {
		if ns != router {
			l.run(ns, "ip route add "+route)
		}
	}
}

// next is the next host number, for addresses.
func (l *Lab) next() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n + 1
}

// Host is a machine of the lab: a namespace with one address.
type Host struct {
	lab    *Lab
	NS     string     // the namespace
	Addr   netip.Addr // its own address
	Public netip.Addr // the address the internet sees it at: its own, or its router's
	Addr6  netip.Addr // its IPv6 address, the same inside and out (zero without Options.IPv6)
	Router Router
}

// PublicHost adds a host on the public network.
func (l *Lab) PublicHost(name string) *Host {
	ns := l.name(name)
	l.ns(ns)
	addr := netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + l.next())})
	l.wire(ns, "eth0", addr)
	h := &Host{lab: l, NS: ns, Addr: addr, Public: addr, Router: Public}
	if l.opts.IPv6 {
		h.Addr6 = public6(addr)
	}
	return h
}

// HomeHost adds a host behind a router of kind r (Public is PublicHost).
// For Forward, port is forwarded (UDP and TCP) from the router to the host.
func (l *Lab) HomeHost(name string, r Router, port int) *Host {
	if r == Public {
		return l.PublicHost(name)
	}
	i := l.next()
	router, home := l.name(name+"r"), l.name(name)
	l.ns(router)
	l.ns(home)
	wan := netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)})
	if r == UPnP {
		wan = netip.AddrFrom4([4]byte{2, 0, 0, byte(10 + i)})
	}
	l.wire(router, "wan", wan)
	l.run(router, fmt.Sprintf("ip link add lan type veth peer name eth0 netns %s && ip link set lan up", home))
	var lanNet, routerLAN, hostAddr netip.Addr
	if r == Firewall {
		// A public subnet of its own, routed through the router: one of
		// the sixteen /28s of 198.51.100.0/24.
		l.mu.Lock()
		k := l.fw
		l.fw++
		l.mu.Unlock()
		if k >= 16 {
			l.t.Fatalf("natlab: more than 16 Firewall homes in one lab")
		}
		base := byte(16 * k)
		lanNet = netip.AddrFrom4([4]byte{198, 51, 100, base})
		routerLAN = netip.AddrFrom4([4]byte{198, 51, 100, base + 1})
		hostAddr = netip.AddrFrom4([4]byte{198, 51, 100, base + 2})
		l.run(router, fmt.Sprintf("ip addr add %s/28 dev lan", routerLAN))
		l.route(router, fmt.Sprintf("%s/28", lanNet), wan)
	} else {
		routerLAN = netip.AddrFrom4([4]byte{10, byte(i), 0, 1})
		hostAddr = netip.AddrFrom4([4]byte{10, byte(i), 0, 2})
		l.run(router, fmt.Sprintf("ip addr add %s/24 dev lan", routerLAN))
	}
	prefixLen := 24
	if r == Firewall {
		prefixLen = 28
	}
	l.run(home, fmt.Sprintf("ip addr add %s/%d dev eth0 && ip link set eth0 up && ip route add default via %s", hostAddr, prefixLen, routerLAN))
	l.run(router, "sysctl -qw net.ipv4.ip_forward=1")
	var host6 netip.Addr
	if l.opts.IPv6 {
		host6 = home6(i, 2)
		l.run(router, fmt.Sprintf("sysctl -qw net.ipv6.conf.all.forwarding=1 && ip -6 addr add %s/64 dev lan nodad", home6(i, 1)))
		l.run(home, fmt.Sprintf("ip -6 addr add %s/64 dev eth0 nodad && ip -6 route add default via %s", host6, home6(i, 1)))
		l.route(router, fmt.Sprintf("%s/64", home6(i, 0)), public6(wan))
	}
	l.nft(router, rules(r, hostAddr, host6, port))
	if r == UPnP {
		l.miniupnpd(router, routerLAN)
	}
	public := wan
	if r == Firewall {
		public = hostAddr
	}
	return &Host{lab: l, NS: home, Addr: hostAddr, Public: public, Addr6: host6, Router: r}
}

// Command returns a command that runs in the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// close removes every namespace of the lab; processes still in them are
// the test's to end (it started them).
func (l *Lab) close() {
	l.mu.Lock()
	names := l.names
	daemons := l.daemons
	l.mu.Unlock()
	for _, d := range daemons { // started by the lab, ended by their ids
		d.cmd.Process.Kill()
		d.cmd.Wait()
		if l.t.Failed() {
			out, _ := os.ReadFile(d.log)
			l.t.Logf("natlab: %s said:\n%s", d.cmd.Args[4], out)
		}
	}
	for i := len(names) - 1; i >= 0; i-- {
		exec.Command("ip", "netns", "del", names[i]).Run()
	}
}
