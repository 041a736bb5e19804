package swarm

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// connGoroutines counts the goroutines running a connection's code, by
// the first swarm frame of their stacks.
func connGoroutines() map[string]int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	out := map[string]int{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		for _, line := range strings.Split(string(g), "\n") {
			if i := strings.Index(line, "bt/swarm.(*conn)."); i >= 0 {
				name := line[i+len("bt/swarm.(*conn)."):]
				name = name[:strings.IndexByte(name, '(')]
				out[name]++
				break
			}
		}
	}
	return out
}

// An idle connection costs one goroutine, waiting in readLoop; nothing
// runs for sending between messages (the timer does; that messages still
// keep BEP 11's timing is TestPEXLimitsOnVirtualTime's).
func TestIdleConnectionHoldsOneGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{4, 2}
		cfg := Config{NoAZMP: true}
		hub := l.node("10.0.0.1", ih, cfg)
		const n = 12
		for i := range n {
			p := l.node(fmt.Sprintf("10.0.1.%d", i+1), ih, cfg)
			p.s.AddPeer(hub.addr(), SourceManual)
		}
		time.Sleep(10 * time.Second) // handshakes, first messages, and the dials they cause
		synctest.Wait()
		conns := 0
		for _, s := range l.swarms() {
			conns += s.Stats().Peers
		}
		got := connGoroutines()
		if got["readLoop"] != conns || len(got) != 1 {
			t.Fatalf("%d connections, goroutines in connection code %v; want one readLoop each and nothing else", conns, got)
		}
		t.Logf("%d connections: %v", conns, got)
	})
}
