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
