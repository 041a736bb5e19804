package attack

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/bt/wire"
)

var infohash = [20]byte{0xa7, 0x7a, 0xc4}

func startSwarm(t *testing.T, args ...string) *proc {
	return startPex(t, 1, append([]string{"bt", "swarm", "--infohash", hex.EncodeToString(infohash[:]), "--listen", "127.0.0.1:0"}, args...)...)
}

func btHandshake(id string) []byte {
	hs := wire.Handshake{InfoHash: infohash}
	hs.Reserved[wire.ReservedByteLTEP] = wire.ReservedBitLTEP
	copy(hs.PeerID[:], "-AT0001-")
	copy(hs.PeerID[8:], id)
	return hs.Append(nil)
}

// honestSwarm connects a pex swarm from ip to addr and waits for the link.
func honestSwarm(t *testing.T, ip, addr string) time.Duration {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	s, err := swarm.New(infohash, &swarm.Config{Dialer: d.DialContext, NoPEX: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	s.AddPeer(netip.MustParseAddrPort(addr), swarm.SourceManual)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-s.Events():
			if ev.Type == swarm.EventConnected {
				return time.Since(start)
			}
		case <-timeout:
			t.Fatalf("honest swarm %s kept out", ip)
		}
	}
}

// Openings that stall (nothing sent, the handshake and then silence, or a
// message announcing a megabyte): memory stays bounded, honest peers
// connect meanwhile, and everything is released.
func TestBTStalledOpenings(t *testing.T) {
	p := startSwarm(t)
	addr := p.addr("tcp")
	time.Sleep(300 * time.Millisecond)
	base := p.usage()
	n := size(500, 2000)
	big := append(btHandshake("stall-big"), binary.BigEndian.AppendUint32(nil, 1<<20)...)
	kinds := [][]byte{nil, btHandshake("stall"), big}
	var conns []net.Conn
	for i := range n {
		c, err := dialFrom(fmt.Sprintf("127.0.%d.%d", i/200, i%200+1), addr)
		if err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
		c.Write(kinds[i%len(kinds)])
		conns = append(conns, c)
	}
	time.Sleep(500 * time.Millisecond)
	during := p.usage()
	took := honestSwarm(t, "127.1.0.1", addr)
	took2 := honestSwarm(t, "127.0.0.1", addr)
	t.Logf("%d stalled openings: %v (baseline %v); honest swarms connected in %v and %v", n, during, base, took, took2)
	if grew := during.RSSKiB - base.RSSKiB; grew > 64<<10 {
		t.Fatalf("RSS grew %d MiB for %d stalled openings, bound 64 MiB", grew>>10, n)
	}
	closeAll(conns)
	after := p.settle(base, 20*time.Second)
	t.Logf("after: %v", after)
}

// victims accept and close, counting connections and bytes.
type victims struct {
	mu    sync.Mutex
	dials map[string]int
	bytes atomic.Int64
	lns   []net.Listener
}

func listenVictims(t *testing.T, addrs []string) *victims {
	v := &victims{dials: map[string]int{}}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		v.lns = append(v.lns, ln)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				v.mu.Lock()
				v.dials[a]++
				v.mu.Unlock()
				go func() {
					c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
					n, _ := io.Copy(io.Discard, c)
					v.bytes.Add(n)
					c.Close()
				}()
			}
		}()
	}
	t.Cleanup(func() {
		for _, ln := range v.lns {
			ln.Close()
		}
	})
	return v
}

// pexAttack opens a link from ip and sends msgs ut_pex messages naming
// added; it returns the bytes sent.
func pexAttack(ip, addr string, msgs int, added []netip.AddrPort) int {
	c, err := dialFrom(ip, addr)
	if err != nil {
		return 0
	}
	defer c.Close()
	b := btHandshake("aim")
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: 6881}
	b = wire.AppendExtended(b, 0, ext.Bytes())
	var m pex.Msg
	for _, a := range added {
		m.Added = append(m.Added, pex.Peer{Addr: a})
	}
	payload, _ := pex.Append(nil, &m)
	for range msgs {
		b = wire.AppendExtended(b, 1, payload)
	}
	go io.Copy(io.Discard, c)
	n, _ := c.Write(b)
	time.Sleep(50 * time.Millisecond)
	return n
}

// PEX amplification: attackers reconnect as fast as they like and name the
// same 50 victims in every message pex tolerates; pex dials each victim at
// most once per backoff window and sends them fewer bytes than the
// attackers sent it.
func TestBTAmplification(t *testing.T) {
	p := startSwarm(t)
	addr := p.addr("tcp")
	var targets []netip.AddrPort
	var addrs []string
	for i := range 50 {
		a := netip.MustParseAddrPort(fmt.Sprintf("127.50.0.%d:%d", i+1, 20000+i))
		targets = append(targets, a)
		addrs = append(addrs, a.String())
	}
	v := listenVictims(t, addrs)
	d := time.Duration(size(20, 600)) * time.Second
	sent, conns := 0, 0
	start := time.Now()
	for end := start.Add(d); time.Now().Before(end); {
		sent += pexAttack(fmt.Sprintf("127.66.0.%d", conns%8+1), addr, 6, targets)
		conns++
	}
	time.Sleep(time.Second)
	v.mu.Lock()
	most, total := 0, 0
	for _, n := range v.dials {
		most = max(most, n)
		total += n
	}
	v.mu.Unlock()
	t.Logf("%v of attack, %d attacker connections, %d bytes sent to pex: %d dials to %d victims (at most %d to one), %d bytes to them",
		d, conns, sent, total, len(addrs), most, v.bytes.Load())
	// The window is what passed, not d: a slow machine's last attack may
	// end late, and the backoff's allowance grows with the time it had.
	if elapsed := time.Since(start); most > 1+int(elapsed/time.Minute) {
		t.Fatalf("a victim was dialed %d times in %v, want at most %d", most, elapsed, 1+int(elapsed/time.Minute))
	}
	if v.bytes.Load() >= int64(sent) {
		t.Fatalf("pex sent victims %d bytes for the attackers' %d", v.bytes.Load(), sent)
	}
}

// A message naming one IP on a thousand ports yields a few dials.
func TestBTPortScan(t *testing.T) {
	p := startSwarm(t)
	addr := p.addr("tcp")
	var ports []netip.AddrPort
	var addrs []string
	for i := range 1000 {
		a := netip.AddrPortFrom(netip.MustParseAddr("127.77.0.1"), uint16(30000+i))
		ports = append(ports, a)
		addrs = append(addrs, a.String())
	}
	v := listenVictims(t, addrs)
	for i := 0; i < len(ports); i += 50 {
		pexAttack("127.66.0.1", addr, 1, ports[i:i+50])
	}
	time.Sleep(2 * time.Second)
	v.mu.Lock()
	defer v.mu.Unlock()
	t.Logf("1000 ports of one IP named: %d dialed", len(v.dials))
	if len(v.dials) > swarm.DefaultMaxDialsPerIP {
		t.Fatalf("%d ports of one IP dialed", len(v.dials))
	}
}

// A peer flooding messages is disconnected; an honest peer is served.
func TestBTMessageFlood(t *testing.T) {
	p := startSwarm(t)
	addr := p.addr("tcp")
	c, err := dialFrom("127.88.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := btHandshake("flood")
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}}
	b = wire.AppendExtended(b, 0, ext.Bytes())
	b = append(b, make([]byte, 4*size(50000, 1000000))...) // keep-alives
	go c.Write(b)
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the flooding peer was not disconnected")
	}
	honestSwarm(t, "127.89.0.1", addr)
	if !p.waitCount("disconnected", func(ev map[string]any) bool {
		r, _ := ev["reason"].(string)
		return strings.Contains(r, "too frequently")
	}) {
		t.Fatal("no disconnect for flooding reported")
	}
}
