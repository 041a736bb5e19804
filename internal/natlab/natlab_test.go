package natlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
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

// echo answers every UDP packet with the address it came from; a packet
// "poke ADDR" is answered from a new socket, to ADDR: a stranger's packet.
func echo() {
	pc, err := net.ListenPacket("udp4", fmt.Sprintf(":%d", echoPort))
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
			if ua, err := net.ResolveUDPAddr("udp4", to); err == nil {
				if other, err := net.ListenPacket("udp4", ":0"); err == nil {
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
	pc, err := net.ListenPacket("udp4", ":5000")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ask := func(to string) string {
		ua, _ := net.ResolveUDPAddr("udp4", to)
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
	ua, _ := net.ResolveUDPAddr("udp4", echo2)
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

// Each router behaves as named: what two servers see of one socket behind
// it (one mapping, or one a destination), and whether a stranger's packet
// to that mapping gets in.
func TestRouterBehaviours(t *testing.T) {
	l := New(t)
	s1, s2 := l.PublicHost("s1"), l.PublicHost("s2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	self, _ := os.Executable()
	for _, s := range []*Host{s1, s2} {
		cmd := s.Command(ctx, self)
		cmd.Env = append(os.Environ(), "NATLAB_HELPER=echo")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
	}
	for _, c := range []struct {
		r           Router
		sameMapping bool
		seenAsOwn   bool
		strangerIn  bool
	}{
		{Public, true, true, true},
		{EIM, true, false, false},
		{Forward, true, false, true},
		{Symmetric, false, false, false},
		{Firewall, true, true, false},
		{UPnP, true, false, false},
	} {
		t.Run(c.r.String(), func(t *testing.T) {
			h := l.HomeHost("h"+c.r.String(), c.r, 5000)
			cmd := h.Command(ctx, self, fmt.Sprintf("%s:%d", s1.Addr, echoPort), fmt.Sprintf("%s:%d", s2.Addr, echoPort))
			cmd.Env = append(os.Environ(), "NATLAB_HELPER=probe")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("probe: %v: %s", err, out)
			}
			var r probeResult
			if err := json.Unmarshal(out, &r); err != nil || r.Seen1 == "" || r.Seen2 == "" {
				t.Fatalf("probe said %q", out)
			}
			host1, port1, _ := net.SplitHostPort(r.Seen1)
			_, port2, _ := net.SplitHostPort(r.Seen2)
			if (port1 == port2) != c.sameMapping {
				t.Errorf("seen as %s and %s: one mapping %v, want %v", r.Seen1, r.Seen2, port1 == port2, c.sameMapping)
			}
			if (host1 == h.Addr.String()) != c.seenAsOwn || host1 != h.Public.String() {
				t.Errorf("seen from %s; the host is %s, public %s", host1, h.Addr, h.Public)
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
