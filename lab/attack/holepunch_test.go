package attack

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/bt/wire"
	labproc "github.com/seed0021ed4d/pex/lab/proc"
)

// hpLink is a hostile peer's TCP link to pex that speaks ut_holepunch
// (BEP 55): it sends the BitTorrent and extended handshakes, reads pex's,
// and counts the connect messages pex sends it.
type hpLink struct {
	c        net.Conn
	hp       atomic.Int32 // the id pex takes ut_holepunch under, once its extended handshake came
	connects atomic.Int64
	done     chan struct{}
}

// hostileHPID is the id the hostile peer takes ut_holepunch under.
const hostileHPID = 3

// linkHP links a hostile peer from ip to pex at addr, telling port as its
// listen port, and waits until pex has said it takes ut_holepunch.
func linkHP(t *testing.T, ip, addr string, port int) *hpLink {
	t.Helper()
	c, err := dialFrom(ip, addr)
	if err != nil {
		t.Fatal(err)
	}
	l := &hpLink{c: c, done: make(chan struct{})}
	t.Cleanup(func() {
		c.Close()
		<-l.done
	})
	ext := wire.ExtHandshake{M: map[string]int{holepunch.ExtensionName: hostileHPID}, Port: port, Version: "aimer/1"}
	if _, err := c.Write(wire.AppendExtended(btHandshake("hp-"+ip), 0, ext.Bytes())); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(l.done)
		if _, err := wire.ReadHandshake(c); err != nil {
			return
		}
		r := wire.NewReader(c, 1<<20)
		for {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			if m.KeepAlive || m.ID != wire.MsgExtended || len(m.Payload) == 0 {
				continue
			}
			switch m.Payload[0] {
			case 0:
				if h, err := wire.ParseExtHandshake(m.Payload[1:]); err == nil {
					l.hp.Store(int32(h.M[holepunch.ExtensionName]))
				}
			case hostileHPID:
				if msg, err := holepunch.Parse(m.Payload[1:]); err == nil && msg.Type == holepunch.Connect {
					l.connects.Add(1)
				}
			}
		}
	}()
	for end := time.Now().Add(10 * time.Second); l.hp.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("pex's extended handshake listed no ut_holepunch")
		}
	}
	return l
}

// send sends one ut_holepunch message of type typ naming each address,
// all in one write.
func (l *hpLink) send(t *testing.T, typ holepunch.MsgType, addrs []netip.AddrPort) {
	t.Helper()
	var b []byte
	for _, a := range addrs {
		p, err := holepunch.Append(nil, holepunch.Msg{Type: typ, Addr: a})
		if err != nil {
			t.Fatal(err)
		}
		b = wire.AppendExtended(b, byte(l.hp.Load()), p)
	}
	if _, err := l.c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// udpVictims are UDP sockets on one IP that count the datagrams they get:
// punch datagrams (not uTP) and uTP SYNs.
type udpVictims struct {
	addrs         []netip.AddrPort
	got           []atomic.Int64 // datagrams, per socket
	punches, syns atomic.Int64
}

func listenUDPVictims(t *testing.T, ip string, n int) *udpVictims {
	t.Helper()
	v := &udpVictims{got: make([]atomic.Int64, n)}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // first, so that it runs after the sockets' Close
	for i := range n {
		pc, err := net.ListenPacket("udp4", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		v.addrs = append(v.addrs, pc.LocalAddr().(*net.UDPAddr).AddrPort())
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				v.got[i].Add(1)
				if n > 0 && buf[0] == 0x41 { // uTP: ST_SYN, version 1
					v.syns.Add(1)
				} else {
					v.punches.Add(1)
				}
			}
		}()
		t.Cleanup(func() { pc.Close() })
	}
	return v
}

// touched counts the sockets that got a datagram: the punches aimed at them.
func (v *udpVictims) touched() int {
	n := 0
	for i := range v.got {
		if v.got[i].Load() > 0 {
			n++
		}
	}
	return n
}

// A hostile peer cannot aim pex's hole punching (BEP 55) at others. Against
// a real `pex bt swarm` with uTP on: (b) rendezvous from one hostile link
// naming an honest peer linked to pex bring that peer at most the relay's
// RelayBurst connect messages at once and RelayRate a second after; (a)
// connect messages from one hostile link naming ports of one victim IP
// start at most MaxDialsPerIP punches, each sending a datagram and a SYN
// every PunchRetry for PunchWindow; the rest are counted as limited.
// (b) runs first: both parts read pex's limited counter.
func TestBTHolepunchCannotAim(t *testing.T) {
	p := startSwarm(t)
	if p.count("listening", func(ev map[string]any) bool { return ev["utp"] == true }) == 0 {
		t.Skip("this pex listens without uTP (built without cgo?): no hole punching")
	}
	addr := p.addr("tcp")
	pexAP := netip.MustParseAddrPort(addr)
	time.Sleep(300 * time.Millisecond)
	base := p.usage()
	hp := func(event string) float64 { return p.metric("pex_bt_holepunch_total", "event", event) }

	// (b) pex as the relay. The target is an honest swarm linked to pex
	// over uTP, taking every connect message it is sent (its own limit
	// would hide the relay's).
	target := hpTarget(t, "127.93.0.1", pexAP)
	nRdv := size(200, 2000)
	asker := linkHP(t, "127.92.0.1", addr, 7000)
	limited0 := hp("limited")
	start := time.Now()
	asker.send(t, holepunch.Rendezvous, repeat(target.ap, nRdv))
	labproc.WaitFor(t, 10*time.Second, fmt.Sprintf("pex to take %d rendezvous", nRdv), func() bool {
		return hp("rendezvous_received")+hp("limited")-limited0 >= float64(nRdv)
	})
	relayed := hp("connects_relayed")
	labproc.WaitFor(t, 10*time.Second, fmt.Sprintf("the target and the asker to get the %v connects relayed", relayed), func() bool {
		return float64(target.s.Stats().Holepunch.ConnectsReceived) >= relayed && float64(asker.connects.Load()) >= relayed
	}, func() string {
		return fmt.Sprintf("target %d, asker %d", target.s.Stats().Holepunch.ConnectsReceived, asker.connects.Load())
	})
	elapsed := time.Since(start)
	got := target.s.Stats().Holepunch.ConnectsReceived
	allowed := float64(swarm.DefaultRelayBurst) + swarm.DefaultRelayRate*elapsed.Seconds()
	t.Logf("%d rendezvous from one peer → %v relayed → %d connects at the target (allowance %.1f in %v), %v limited",
		nRdv, relayed, got, allowed, elapsed.Round(time.Millisecond), hp("limited")-limited0)
	if float64(got) > allowed || relayed > allowed {
		t.Fatalf("the target got %d connects (pex relayed %v) in %v; RelayBurst and RelayRate allow %.1f", got, relayed, elapsed, allowed)
	}
	if relayed < 1 {
		t.Fatal("pex relayed nothing: the attack never reached the bound")
	}

	// (a) pex as the target of connect messages naming a victim.
	nConn := size(200, 2000)
	v := listenUDPVictims(t, "127.94.0.1", size(32, 128))
	aimer := linkHP(t, "127.91.0.1", addr, 7000)
	received0, limited0 := hp("connects_received"), hp("limited")
	named := make([]netip.AddrPort, nConn)
	for i := range named {
		named[i] = v.addrs[i%len(v.addrs)]
	}
	aimer.send(t, holepunch.Connect, named)
	taken := func() float64 { return hp("connects_received") - received0 + hp("limited") - limited0 }
	labproc.WaitFor(t, 10*time.Second, fmt.Sprintf("pex to take %d connects", nConn), func() bool { return taken() >= float64(nConn) })
	// Every punch sends a datagram first, so the victims count them; each
	// ends (failed: the victims never answer) after PunchWindow.
	ended := func() float64 { return p.metric("pex_bt_holepunch_outcomes_total", "outcome", swarm.OutcomeFailed) }
	window := swarm.DefaultPunchWindow
	labproc.WaitFor(t, window+15*time.Second, "the punches at the victims to end", func() bool {
		n := v.touched()
		return n > 0 && ended() >= float64(n)
	}, func() string { return fmt.Sprintf("%d punches reached the victims, %v ended", v.touched(), ended()) })
	punches := v.touched()
	perPunch := 2 * (int(window/swarm.DefaultPunchRetry) + 1) // a datagram and a SYN each retry
	datagrams := v.punches.Load() + v.syns.Load()
	limited := hp("limited") - limited0
	events := p.count("holepunch", func(ev map[string]any) bool { return ev["role"] == swarm.RoleTarget })
	t.Logf("%d connects from one peer naming %d ports of one IP → %d punches (%d holepunch events) → %d datagrams at the victim (%d punch datagrams, %d SYNs; allowance %d), %v limited",
		nConn, len(v.addrs), punches, events, datagrams, v.punches.Load(), v.syns.Load(), punches*perPunch, limited)
	if punches > swarm.DefaultMaxDialsPerIP {
		t.Fatalf("%d punches at one victim IP; MaxDialsPerIP allows %d", punches, swarm.DefaultMaxDialsPerIP)
	}
	if datagrams > int64(punches*perPunch) {
		t.Fatalf("%d datagrams at the victim from %d punches; each may send %d", datagrams, punches, perPunch)
	}
	if limited != float64(nConn-punches) {
		t.Fatalf("%v connects counted as limited; %d sent, %d punched", limited, nConn, punches)
	}

	target.close()
	asker.c.Close()
	aimer.c.Close()
	t.Logf("after: %v (baseline %v)", p.settle(base, 20*time.Second), base)
}

// repeat returns n copies of a.
func repeat(a netip.AddrPort, n int) []netip.AddrPort {
	out := make([]netip.AddrPort, n)
	for i := range out {
		out[i] = a
	}
	return out
}

// hpTargetSwarm is an honest in-process swarm with uTP, linked to pex.
type hpTargetSwarm struct {
	s    *swarm.Swarm
	ap   netip.AddrPort
	once sync.Once
}

func (h *hpTargetSwarm) close() { h.once.Do(func() { h.s.Close() }) }

// hpTarget starts a swarm on a uTP socket at ip and links it to pex at
// pexAP over uTP; its connect limits are lifted, so that it counts every
// connect message it is sent.
func hpTarget(t *testing.T, ip string, pexAP netip.AddrPort) *hpTargetSwarm {
	t.Helper()
	u, err := utp.Listen("udp4", ip+":0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ap := u.AddrPort()
	s, err := swarm.New(infohash, &swarm.Config{ListenPort: int(ap.Port()), NoPEX: true,
		Holepunch: swarm.HolepunchConfig{ConnectBurst: 1 << 20, ConnectRate: 1 << 20}})
	if err != nil {
		u.Close()
		t.Fatal(err)
	}
	h := &hpTargetSwarm{s: s, ap: ap}
	t.Cleanup(h.close)
	if err := s.UseUTP(u); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range s.Events() { // drained, so that none is dropped for want of room
		}
	}()
	s.AddPeer(pexAP, swarm.SourceManual)
	labproc.WaitFor(t, 15*time.Second, "the target to link to pex over uTP", func() bool {
		for _, p := range s.Peers() {
			if p.Addr == pexAP && p.UTP && p.Holepunch {
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("%+v", s.Peers()) })
	return h
}
