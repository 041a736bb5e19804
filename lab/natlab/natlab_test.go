package natlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary doubles as the lab's probe programs: NATLAB_HELPER
// selects one, run inside a namespace.
func TestMain(m *testing.M) {
	switch os.Getenv("NATLAB_HELPER") {
	case "echo":
		echo()
		return
	case "probe":
		probe(os.Args[len(os.Args)-2], os.Args[len(os.Args)-1])
		return
	case "natpmp":
		natpmp()
		return
	}
	goleak.VerifyTestMain(m)
}

const echoPort = 7000

// udp is the helpers' network: udp4, or udp6 when NATLAB_NET says so.
func udp() string {
	if os.Getenv("NATLAB_NET") == "udp6" {
		return "udp6"
	}
	return "udp4"
}

// echo answers every UDP packet with the address it came from; a packet
// "poke ADDR" is answered from a new socket, to ADDR: a stranger's packet.
func echo() {
	pc, err := net.ListenPacket(udp(), fmt.Sprintf(":%d", echoPort))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
		if to, ok := strings.CutPrefix(msg, "poke "); ok {
			if ua, err := net.ResolveUDPAddr(udp(), to); err == nil {
				if other, err := net.ListenPacket(udp(), ":0"); err == nil {
					other.WriteTo([]byte("unsolicited"), ua)
					other.Close()
				}
			}
			continue
		}
		pc.WriteTo([]byte(from.String()), from)
	}
}

// natpmp asks the default gateway, over NAT-PMP (RFC 6886), for its
// public address and a mapping of TCP port 5000, and prints both.
func natpmp() {
	gw := defaultGateway()
	c, err := net.Dial("udp4", gw+":5351")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer c.Close()
	ask := func(req []byte, n int) []byte {
		buf := make([]byte, 64)
		for range 5 {
			c.Write(req)
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if k, err := c.Read(buf); err == nil && k >= n {
				return buf[:k]
			}
		}
		return nil
	}
	var r struct {
		External string
		Mapped   int
	}
	if b := ask([]byte{0, 0}, 12); b != nil && b[3] == 0 && b[1] == 128 {
		r.External = net.IP(b[8:12]).String()
	} else {
		fmt.Fprintf(os.Stderr, "external address answer % x\n", b)
	}
	// Map TCP 5000 -> 5000 for an hour.
	if b := ask([]byte{0, 2, 0, 0, 0x13, 0x88, 0x13, 0x88, 0, 0, 0x0e, 0x10}, 16); b != nil && b[3] == 0 {
		r.Mapped = int(b[10])<<8 | int(b[11])
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

// defaultGateway reads the IPv4 default route's gateway from /proc.
func defaultGateway() string {
	b, _ := os.ReadFile("/proc/net/route")
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == "00000000" {
			var g uint32
			fmt.Sscanf(f[2], "%x", &g)
			return net.IPv4(byte(g), byte(g>>8), byte(g>>16), byte(g>>24)).String()
		}
	}
	return ""
}

type probeResult struct {
	Seen1, Seen2 string // the mapping echo 1 and echo 2 saw
	Unsolicited  bool   // a stranger's packet to the mapping arrived
}

// probe sends from one socket to two echo servers, then asks the second
// to have a stranger write to the mapping the first saw.
func probe(echo1, echo2 string) {
	pc, err := net.ListenPacket(udp(), ":5000")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ask := func(to string) string {
		ua, _ := net.ResolveUDPAddr(udp(), to)
		buf := make([]byte, 100)
		for range 5 {
			pc.WriteTo([]byte("hi"), ua)
			pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if n, _, err := pc.ReadFrom(buf); err == nil {
				return string(buf[:n])
			}
		}
		return ""
	}
	var r probeResult
	r.Seen1, r.Seen2 = ask(echo1), ask(echo2)
	ua, _ := net.ResolveUDPAddr(udp(), echo2)
	pc.WriteTo([]byte("poke "+r.Seen1), ua)
	pc.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 100)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			break
		}
		if string(buf[:n]) == "unsolicited" {
			r.Unsolicited = true
			break
		}
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// routerCase is what a probe behind a router should find.
type routerCase struct {
	r           Router
	sameMapping bool // both servers see one port
	seenAsOwn   bool // they see the host's own address
	strangerIn  bool // a stranger's packet to what they saw gets in
}

// Each router behaves as named: what two servers see of one socket behind
// it (one mapping, or one a destination), and whether a stranger's packet
// to that mapping gets in.
func TestRouterBehaviours(t *testing.T) {
	probeRouters(t, New(t), false, []routerCase{
		{Public, true, true, true},
		{EIM, true, false, false},
		{Forward, true, false, true},
		{Symmetric, false, false, false},
		{Firewall, true, true, false},
		{UPnP, true, false, false},
	})
}

// Over IPv6 there is no NAT: every host is seen at its own address, one
// port for every destination, and every router is a stateful firewall:
// a stranger gets in only to a public host or a Forward router's port.
func TestRouterBehavioursIPv6(t *testing.T) {
	probeRouters(t, NewWith(t, Options{IPv6: true}), true, []routerCase{
		{Public, true, true, true},
		{EIM, true, true, false},
		{Forward, true, true, true},
		{Symmetric, true, true, false},
		{Firewall, true, true, false},
		{UPnP, true, true, false},
	})
}

// probeRouters runs the probe behind a router of each case's kind against
// two public echo servers, over IPv6 when v6.
func probeRouters(t *testing.T, l *Lab, v6 bool, cases []routerCase) {
	s1, s2 := l.PublicHost("s1"), l.PublicHost("s2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	self, _ := os.Executable()
	env := append(os.Environ(), "NATLAB_NET=udp4")
	addr := func(h *Host) netip.Addr { return h.Addr }
	public := func(h *Host) netip.Addr { return h.Public }
	if v6 {
		env = append(os.Environ(), "NATLAB_NET=udp6")
		addr = func(h *Host) netip.Addr { return h.Addr6 }
		public = addr
	}
	for _, s := range []*Host{s1, s2} {
		cmd := s.Command(ctx, self)
		cmd.Env = append(env, "NATLAB_HELPER=echo")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
	}
	for _, c := range cases {
		t.Run(c.r.String(), func(t *testing.T) {
			h := l.HomeHost("h"+c.r.String(), c.r, 5000)
			echo := func(s *Host) string { return netip.AddrPortFrom(addr(s), echoPort).String() }
			cmd := h.Command(ctx, self, echo(s1), echo(s2))
			cmd.Env = append(env, "NATLAB_HELPER=probe")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("probe: %v: %s", err, out)
			}
			var r probeResult
			if err := json.Unmarshal(out, &r); err != nil || r.Seen1 == "" || r.Seen2 == "" {
				t.Fatalf("probe said %q", out)
			}
			seen1, _ := netip.ParseAddrPort(r.Seen1)
			seen2, _ := netip.ParseAddrPort(r.Seen2)
			if (seen1.Port() == seen2.Port()) != c.sameMapping {
				t.Errorf("seen as %s and %s: one mapping %v, want %v", r.Seen1, r.Seen2, seen1.Port() == seen2.Port(), c.sameMapping)
			}
			if host := seen1.Addr().Unmap(); (host == addr(h)) != c.seenAsOwn || host != public(h) {
				t.Errorf("seen from %s; the host is %s, public %s", host, addr(h), public(h))
			}
			if r.Unsolicited != c.strangerIn {
				t.Errorf("a stranger's packet got in: %v, want %v", r.Unsolicited, c.strangerIn)
			}
		})
	}
}

// A UPnP router answers NAT-PMP: it tells its public address and maps a
// port, which a stranger can then reach.
func TestUPnPRouterMaps(t *testing.T) {
	l := New(t)
	h := l.HomeHost("hupnp", UPnP, 5000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	self, _ := os.Executable()
	cmd := h.Command(ctx, self, "10.0.0.0") // the gateway is found by the helper
	cmd.Env = append(os.Environ(), "NATLAB_HELPER=natpmp")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("natpmp helper: %v: %s", err, out)
	}
	var r struct {
		External string
		Mapped   int
	}
	if err := json.Unmarshal(out, &r); err != nil || r.External != h.Public.String() || r.Mapped == 0 {
		t.Fatalf("NAT-PMP said %s; want external %s and a mapped port", out, h.Public)
	}
}
