package attack

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// aimingBootstrap is a hostile PXP bootstrap: every getpeers it is asked
// gets 16 candidates, fresh ids each time, whose advertised "tcp" names
// the victims in turn; every relay request is refused.
type aimingBootstrap struct {
	ln       net.Listener
	victims  []string
	ids      atomic.Int64
	getpeers atomic.Int64
}

func startAimingBootstrap(t *testing.T, ip string, victims []string) *aimingBootstrap {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	b := &aimingBootstrap{ln: ln, victims: victims}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closeAll(conns)
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.serve(c)
			}()
		}
	}()
	return b
}

func (b *aimingBootstrap) serve(c net.Conn) {
	defer c.Close()
	if _, err := c.Write(helloFrames(`{"pxp":true,"relay":true,"id":"aimer"}`)); err != nil {
		return
	}
	br := bufio.NewReader(c)
	if _, err := io.ReadFull(br, make([]byte, len(wire.Magic))); err != nil {
		return
	}
	r := mux.NewReader(br, 0)
	names := map[uint64]string{}
	var buf strings.Builder
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return
		}
		switch {
		case f.Type == mux.TypeNew:
			names[f.Channel] = string(f.Payload)
		case f.Type == mux.TypeDataInit && names[f.Channel] == "pxp":
			buf.Write(f.Payload)
			for {
				s := buf.String()
				i := strings.IndexByte(s, '\n')
				if i < 0 {
					break
				}
				buf.Reset()
				buf.WriteString(s[i+1:])
				m, err := wire.ParseMessage([]byte(s[:i]))
				if err != nil {
					continue
				}
				var res string
				switch m.Command {
				case wire.CmdConnect:
					res = "null"
				case wire.CmdGetPeers:
					res = "[null," + b.answer() + "]"
				case wire.CmdRelay:
					res = `"no"`
				default:
					continue
				}
				if _, err := c.Write(line(`["res","` + m.Nonce + `",` + res + `]`)); err != nil {
					return
				}
			}
		}
	}
}

func (b *aimingBootstrap) answer() string {
	b.getpeers.Add(1)
	var cands []pxp.Candidate
	for range 16 {
		n := b.ids.Add(1)
		id := fmt.Sprintf("sybil%d", n)
		ci := fmt.Sprintf(`{"pxp":true,"relay":true,"id":%q,"tcp":%q}`, id, b.victims[int(n)%len(b.victims)])
		cands = append(cands, pxp.Candidate{ID: id, Network: network, ConnectInfo: json.RawMessage(ci)})
	}
	out, _ := json.Marshal(cands)
	return string(out)
}

// countingVictims listens on one port of each IP given and counts the
// connections each gets; it closes them at once (they do not speak PXP).
func countingVictims(t *testing.T, ips ...string) (addrs []string, count func(string) int) {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	var lns []net.Listener
	t.Cleanup(func() {
		for _, ln := range lns {
			ln.Close()
		}
		wg.Wait()
	})
	for _, ip := range ips {
		ln, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		a := ln.Addr().String()
		addrs = append(addrs, a)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				counts[a]++
				mu.Unlock()
				c.Close()
			}
		}()
	}
	return addrs, func(a string) int {
		mu.Lock()
		defer mu.Unlock()
		return counts[a]
	}
}

// A bootstrap that answers every getpeers with 16 candidates whose "tcp"
// names one of 3 victims, against a real pex node --want 5: each victim is
// dialed once and then only after pxp's doubling backoff (1 min, 2, 4...),
// however often the bootstrap names it. The test runs 20 s in CI and 60 s
// with PEX_ATTACK_FULL; PEX_ATTACK_BIN runs it against an older build for
// the "before" figure (it then fails, and logs the dials).
func TestPXPRelayCannotAimDials(t *testing.T) {
	victims, dials := countingVictims(t, "127.61.0.1", "127.61.0.2", "127.61.0.3")
	boot := startAimingBootstrap(t, "127.60.0.1", victims)
	p := startPex(t, 0, "node", "--network", network, "--connect", boot.ln.Addr().String(), "--want", "5", "--no-webrtc")
	d := time.Duration(size(20, 60)) * time.Second
	p.Wait("connect", 10*time.Second, nil)
	start := time.Now()
	time.Sleep(d)
	elapsed := time.Since(start)
	def := pxp.DefaultConfig()
	allowed := 1 // one dial, then none before DirectDialBackoff...
	for at, wait := def.DirectDialBackoff, def.DirectDialBackoff; at <= elapsed; at, wait = at+min(2*wait, def.MaxDirectDialBackoff), min(2*wait, def.MaxDirectDialBackoff) {
		allowed++ // ...and one after each doubling wait
	}
	total := 0
	var each []string
	for _, a := range victims {
		n := dials(a)
		total += n
		each = append(each, fmt.Sprint(n))
		if n > allowed {
			t.Errorf("victim %s dialed %d times in %v, the backoff allows %d", a, n, elapsed.Round(time.Second), allowed)
		}
	}
	t.Logf("%v: the bootstrap answered %d getpeers (%d candidates naming 3 victims); the victims were dialed %s times, %d in all (at most %d each allowed)",
		elapsed.Round(time.Second), boot.getpeers.Load(), 16*boot.getpeers.Load(), strings.Join(each, ", "), total, allowed)
	if boot.getpeers.Load() < 3 {
		t.Fatalf("the node asked the bootstrap %d times: too few to aim anything", boot.getpeers.Load())
	}
}
