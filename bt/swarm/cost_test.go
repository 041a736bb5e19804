package swarm

import (
	"fmt"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
	"github.com/seed0021ed4d/pex/lab/memnet"
)

// What a swarm's defences cost is measured by the benchmarks below; the
// tests assert the mechanisms (counters, on virtual time), never a CPU or
// wall time.

// mseOpening is the start of an MSE handshake: a 96-byte public key (a
// valid one: 1 < Ya < p-1), then padding.
func mseOpening() []byte {
	b := make([]byte, 96+64)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// openMSE sends an MSE opening on c and reports whether the swarm answered
// it with its own public key (Yb, 96 bytes: it did the Diffie-Hellman) or
// closed the connection first.
func openMSE(c net.Conn) bool {
	defer c.Close()
	if _, err := c.Write(mseOpening()); err != nil {
		return false
	}
	var yb [96]byte
	_, err := io.ReadFull(c, yb[:])
	return err == nil
}

// Openings from one IP past its opening rate are closed before any work:
// a flood of MSE openings gets OpeningBurst answered at once and then
// OpeningRate a second, every other one closed without a byte (no
// Diffie-Hellman), and the counters behind pex_bt_openings_total say so.
// Honest peers connect meanwhile, from the flooding IP too once its rate
// allows. On virtual time, so the allowance is exact.
func TestOpeningFloodRefusedBeforeDH(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa9}
		n := l.node("10.0.0.1", ih, Config{})
		const ip = "10.6.6.7"
		opened, answered := 0, 0
		open := func() {
			c, err := l.dial(ip, n.addr().String())
			if err != nil {
				t.Fatal(err)
			}
			opened++
			if openMSE(c) {
				answered++
			}
		}
		// A thousand at once, then a hundred a second for ten seconds.
		start := time.Now()
		for range 1000 {
			open()
		}
		synctest.Wait()
		if st := n.s.Stats(); answered != DefaultOpeningBurst || st.OpeningsAdmitted != DefaultOpeningBurst || st.OpeningsRefused != 1000-DefaultOpeningBurst {
			t.Fatalf("1000 openings at once: %d answered, %d admitted, %d refused; want the burst (%d) answered and admitted, the rest refused",
				answered, st.OpeningsAdmitted, st.OpeningsRefused, DefaultOpeningBurst)
		}
		for range 1000 {
			time.Sleep(10 * time.Millisecond)
			open()
		}
		synctest.Wait()
		elapsed := time.Since(start)
		st := n.s.Stats()
		allowed := DefaultOpeningBurst + int(DefaultOpeningRate*elapsed.Seconds())
		t.Logf("%d MSE openings from one IP over %v: %d answered (allowance %d), %d refused before any work", opened, elapsed, answered, allowed, st.OpeningsRefused)
		if st.OpeningsAdmitted+st.OpeningsRefused != uint64(opened) {
			t.Fatalf("%d openings, the gate counted %d admitted and %d refused", opened, st.OpeningsAdmitted, st.OpeningsRefused)
		}
		if uint64(answered) != st.OpeningsAdmitted {
			t.Fatalf("%d openings answered with a Diffie-Hellman, %d admitted: a refused one was worked on", answered, st.OpeningsAdmitted)
		}
		if answered > allowed || answered < allowed-2 {
			t.Fatalf("%d openings answered in %v, want the burst and the rate's (%d)", answered, elapsed, allowed)
		}
		// Honest peers: from elsewhere at once, from the flooding IP once
		// its bucket has a token again.
		other := l.node("10.0.0.2", ih, Config{})
		other.s.AddPeer(n.addr(), SourceManual)
		waitEventWithin(t, other.s, EventConnected, time.Second, nil)
		time.Sleep(time.Second)
		same := l.node(ip, ih, Config{})
		same.s.AddPeer(n.addr(), SourceManual)
		waitEvent(t, same.s, EventConnected, nil)
	})
}

// An idle swarm does no periodic work but what is due: once its peers
// have been told the set and nothing changes, a link's sender wakes only
// for a keep-alive (KeepAliveInterval, longer than BEP 11's minute between
// PEX messages), and sends no PEX message. Counted over a virtual hour.
func TestIdleSwarmWakesOnlyWhenDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xab, 1}
		const peers = 40
		hub := l.node("10.0.0.1", ih, Config{NoAZMP: true, MaxPeers: peers + 10})
		stop := make(chan struct{})
		defer close(stop)
		for i := range peers {
			c := idlePeer(t, l, fmt.Sprintf("10.1.0.%d", i+1), hub.addr(), ih)
			go func() { // a keep-alive a minute, inside the hub's IdleTimeout
				defer c.Close()
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Minute):
					}
					if _, err := c.Write(make([]byte, 4)); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(10 * time.Minute) // every peer told of every other
		synctest.Wait()
		before := hub.s.Stats()
		const window = time.Hour
		time.Sleep(window)
		synctest.Wait()
		after := hub.s.Stats()
		wakeups := after.SenderWakeups - before.SenderWakeups
		sent := after.PEXSent[NetUTPex] - before.PEXSent[NetUTPex]
		perLink := uint64(window/KeepAliveInterval) + 1
		t.Logf("%d idle links over %v: %d sender wake-ups (%.1f a link; a keep-alive every %v allows %d), %d PEX messages; %d before the window",
			peers, window, wakeups, float64(wakeups)/peers, KeepAliveInterval, perLink, sent, before.SenderWakeups)
		if before.Peers != peers || after.Peers != peers || before.PEXSent[NetUTPex] < peers {
			t.Fatalf("%d then %d peers, %d PEX messages sent before the window; want %d peers each told the set", before.Peers, after.Peers, before.PEXSent[NetUTPex], peers)
		}
		if sent != 0 {
			t.Fatalf("%d PEX messages in an idle %v: nothing changed, so nothing was due", sent, window)
		}
		if wakeups > peers*perLink {
			t.Fatalf("%d sender wake-ups for %d idle links in %v; a keep-alive each every %v allows %d", wakeups, peers, window, KeepAliveInterval, peers*perLink)
		}
		if limit := uint64(peers) * uint64(window/pex.Interval); wakeups > limit {
			t.Fatalf("%d sender wake-ups in %v: more than one a link a PEX interval (%d)", wakeups, window, limit)
		}
	})
}

// BenchmarkOpening measures, in the same run, what an MSE opening from one
// IP costs a swarm when it is refused by the opening rate (closed before
// any work) and when it is answered (the Diffie-Hellman, the baseline):
// one of each an iteration, over an in-memory pipe, from the opening's
// first byte to the swarm's answer or close. It reports both times and
// how many refused openings cost what one answered opening does.
func BenchmarkOpening(b *testing.B) {
	ih := [20]byte{0xbe}
	refusing, err := New(ih, &Config{OpeningRate: 1e-9, OpeningBurst: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer refusing.Close()
	answering, err := New(ih, &Config{OpeningRate: 1e9, OpeningBurst: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer answering.Close()
	open := func(s *Swarm) bool {
		ours, theirs := memnet.Pipe("10.0.0.1:6881", "10.9.9.9:40000")
		s.Accept(ours)
		return openMSE(theirs)
	}
	open(refusing) // the burst's one token
	var refused, answered time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if open(refusing) {
			b.Fatal("an opening past the rate was answered")
		}
		t1 := time.Now()
		if !open(answering) {
			b.Fatal("an opening within the rate was not answered")
		}
		refused += t1.Sub(t0)
		answered += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(refused.Nanoseconds())/float64(n), "refused-ns/opening")
	b.ReportMetric(float64(answered.Nanoseconds())/float64(n), "answered-ns/opening")
	b.ReportMetric(float64(answered)/float64(refused), "answered/refused")
	if st := refusing.Stats(); st.OpeningsAdmitted != 1 {
		b.Fatalf("the refusing swarm admitted %d openings", st.OpeningsAdmitted)
	}
}

// BenchmarkIdleWakeup measures what one wake-up of an idle link's sender
// costs, the only periodic work of an idle swarm (TestIdleSwarmWakesOnlyWhenDue
// counts them: one a KeepAliveInterval a link): a timer fires the sender
// of a link with nothing to tell, which writes the keep-alive that is due.
// The baseline, in the same run, is the least any keep-alive can cost: a
// bare timer whose function writes the 4 bytes to a pipe like the link's.
// It reports both and the ratio.
func BenchmarkIdleWakeup(b *testing.B) {
	l := &lab{nw: memnet.NewNetwork()}
	ih := [20]byte{0xbf}
	ap := "10.0.0.1:6881"
	ln, err := l.nw.Listen(ap)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(ih, &Config{NoAZMP: true, ListenPort: 6881})
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	const links = 16
	for i := range links {
		c, err := l.dial(fmt.Sprintf("10.1.0.%d", i+1), ap)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.Write(ltepHandshake(ih, fmt.Sprintf("-XX0001-idle%d", i)))
		c.Write(wireExtHandshake())
		go io.Copy(io.Discard, c)
	}
	// Until every link has been told the others: then nothing is due.
	for deadline := time.Now().Add(30 * time.Second); s.Stats().PEXSent[NetUTPex] < links; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("stats %+v", s.Stats())
		}
	}
	s.mu.Lock()
	var conns []*conn
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	ours, theirs := memnet.Pipe("10.0.0.1:6881", "10.2.0.1:40000")
	defer ours.Close()
	go io.Copy(io.Discard, theirs)
	done := make(chan struct{})
	var pexTime, bare time.Duration
	n := 0
	for b.Loop() {
		c := conns[n%len(conns)]
		c.send.mu.Lock()
		c.send.lastWrite = time.Time{} // a keep-alive is due
		c.send.mu.Unlock()
		t0 := time.Now()
		time.AfterFunc(0, func() { c.fire(); done <- struct{}{} })
		<-done
		t1 := time.Now()
		time.AfterFunc(0, func() { ours.Write(c.net.keepAlive()); done <- struct{}{} })
		<-done
		pexTime += t1.Sub(t0)
		bare += time.Since(t1)
		n++
	}
	if st := s.Stats(); st.PEXSent[NetUTPex] != links || st.Peers != links {
		b.Fatalf("the links were not idle: %+v", st)
	}
	b.ReportMetric(float64(pexTime.Nanoseconds())/float64(n), "wakeup-ns")
	b.ReportMetric(float64(bare.Nanoseconds())/float64(n), "bare-timer-ns")
	b.ReportMetric(float64(pexTime)/float64(bare), "wakeup/bare")
}

// wireExtHandshake is an extended handshake offering ut_pex, with a
// listen port.
func wireExtHandshake() []byte {
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: 6881}
	return wire.AppendExtended(nil, 0, ext.Bytes())
}
