package nat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/internal/natlab"
)

var pexBin string

func TestMain(m *testing.M) {
	if helper() {
		return
	}
	dir, err := os.MkdirTemp("", "pex-nat")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pexBin = filepath.Join(dir, "pex")
	_, file, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", pexBin, "./cmd/pex")
	build.Dir = filepath.Dir(filepath.Dir(file))
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "nat: building pex:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "nat: leaked goroutines:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a pex process in a lab host, its JSON events collected.
type proc struct {
	cmd    *exec.Cmd
	stop   func()        // ends it: SIGINT, then a kill after 5 s
	closed chan struct{} // closed when its output has been read to the end
	mu     sync.Mutex
	cond   *sync.Cond
	events []map[string]any
	done   bool
}

// start runs pex with args and --json in host h until the test ends.
func start(t *testing.T, h *natlab.Host, args ...string) *proc {
	t.Helper()
	p, err := startProc(h, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// startProc runs pex with args and --json in host h until p.stop.
func startProc(h *natlab.Host, args ...string) (*proc, error) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{cmd: h.Command(ctx, pexBin, append(args, "--json")...)}
	p.cond = sync.NewCond(&p.mu)
	var events io.Writer = io.Discard
	if dir := os.Getenv("PEX_NAT_DEBUG"); dir != "" { // a directory for each process's debug log and events
		p.cmd.Env = append(os.Environ(), "PEX_DEBUG=1", "PEX_DEBUG_PION=ice")
		name := filepath.Join(dir, fmt.Sprintf("%s-%d", h.NS, time.Now().UnixNano()))
		if f, err := os.Create(name + ".log"); err == nil {
			p.cmd.Stderr = f
			defer f.Close()
		}
		if f, err := os.Create(name + ".events"); err == nil {
			events = f
			defer func() { go func() { <-p.closed; f.Close() }() }()
		}
	}
	out, err := p.cmd.StdoutPipe()
	if err == nil {
		err = p.cmd.Start()
	}
	if err != nil {
		cancel()
		return nil, err
	}
	read := make(chan struct{})
	p.closed = read
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(events, sc.Text())
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				p.mu.Lock()
				p.events = append(p.events, ev)
				p.cond.Broadcast()
				p.mu.Unlock()
			}
		}
		p.mu.Lock()
		p.done = true
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			p.cmd.Process.Signal(os.Interrupt) // the process we started, by its id
			t := time.AfterFunc(5*time.Second, cancel)
			<-read
			p.cmd.Wait()
			t.Stop()
			cancel()
		})
	}
	return p, nil
}

// wait returns the first event named name (matching match) within limit,
// or nil.
func (p *proc) wait(name string, limit time.Duration, match func(map[string]any) bool) map[string]any {
	wake := time.AfterFunc(limit, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer wake.Stop()
	end := time.Now().Add(limit)
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for _, ev := range p.events {
			if ev["event"] == name && (match == nil || match(ev)) {
				return ev
			}
		}
		if p.done || time.Now().After(end) {
			return nil
		}
		p.cond.Wait()
	}
}

// count returns how many events named name there have been.
func (p *proc) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ev := range p.events {
		if ev["event"] == name {
			n++
		}
	}
	return n
}

// last returns the last event named name, or nil.
func (p *proc) last(name string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.events) - 1; i >= 0; i-- {
		if p.events[i]["event"] == name {
			return p.events[i]
		}
	}
	return nil
}

// outcome is how one pair met.
type outcome struct {
	a, b      natlab.Router
	ok        bool
	transport string
	candidate string
	ms        float64
	reason    string
}

const network = "nat-lab"

// The matrix: for every pair of router behaviours, a node behind one asks
// the public relay for a new peer and must reach the node behind the
// other. With a STUN server only, every pair a hole punch can join
// connects directly over WebRTC; with a TURN server too, every pair
// connects, those no punch can join through the relay.
func TestIntroductionsAcrossNATs(t *testing.T) {
	l := natlab.New(t)
	stun := l.PublicHost("stun")
	relay := l.PublicHost("relay")
	start(t, stun, "turn", "--listen", stun.Addr.String()+":3478", "--relay-ip", stun.Addr.String(), "--user", "lab:lab")
	r := start(t, relay, "node", "--network", network, "--listen", relay.Addr.String()+":7000", "--no-webrtc")
	if r.wait("listening", 10*time.Second, nil) == nil {
		t.Fatal("the relay did not start")
	}
	kinds := []natlab.Router{natlab.Public, natlab.EIM, natlab.Forward, natlab.Symmetric, natlab.Firewall}
	if only := os.Getenv("PEX_NAT_ROUTERS"); only != "" { // e.g. "eim,symmetric", to look at a few
		kinds = slices.DeleteFunc(kinds, func(k natlab.Router) bool { return !slices.Contains(strings.Split(only, ","), k.String()) })
	}
	hosts := map[natlab.Router][2]*natlab.Host{}
	for _, k := range kinds {
		hosts[k] = [2]*natlab.Host{l.HomeHost("a"+k.String(), k, 5000), l.HomeHost("b"+k.String(), k, 5000)}
	}
	stunURL := "stun:" + stun.Addr.String() + ":3478"
	turnURL := "turn:" + stun.Addr.String() + ":3478"
	modes := []bool{false, true}
	if os.Getenv("PEX_NAT_STUN_ONLY") != "" {
		modes = modes[:1]
	}
	for _, withTURN := range modes {
		name := "stun"
		if withTURN {
			name = "stun+turn"
		}
		t.Run(name, func(t *testing.T) {
			var results []outcome
			for i, ka := range kinds {
				for _, kb := range kinds[i:] {
					ice := []string{"--ice-server", stunURL}
					if withTURN {
						ice = append(ice, "--ice-server", turnURL, "--turn-user", "lab", "--turn-pass", "lab")
					}
					// A pair no punch can join is given one upgrade's time.
					limit := 25 * time.Second
					if !withTURN && !punchable(ka, kb) {
						limit = 12 * time.Second
					}
					results = append(results, meet(t, hosts[ka][0], hosts[kb][1], relay, ice, limit))
				}
			}
			report(t, name, results)
			for _, o := range results {
				switch {
				case withTURN && !o.ok:
					t.Errorf("%s x %s: not connected with TURN: %s", o.a, o.b, o.reason)
				case !withTURN && punchable(o.a, o.b) && !o.ok:
					t.Errorf("%s x %s: a hole punch can join them, but they did not connect: %s", o.a, o.b, o.reason)
				case !withTURN && o.ok && o.candidate == "relay":
					t.Errorf("%s x %s: relayed without a TURN server", o.a, o.b)
				case withTURN && punchable(o.a, o.b) && o.candidate == "relay":
					t.Errorf("%s x %s: relayed, though a direct path exists", o.a, o.b)
				}
			}
		})
	}
}

// punchable says whether two routers' peers can meet directly: not when
// one maps per destination and the other filters by address and port
// (its mapping is not the one the other side learned from STUN). A router
// forwarding a port filters every other port, and WebRTC's ports are
// ephemeral: for ICE it is one more filtering router.
func punchable(a, b natlab.Router) bool {
	filters := func(r natlab.Router) bool {
		return r != natlab.Public
	}
	if a == natlab.Symmetric && filters(b) || b == natlab.Symmetric && filters(a) {
		return false
	}
	return true
}

// meet starts B, then A wanting two peers (the relay and one more), and
// reports how A's GetNewPeer reached B.
func meet(t *testing.T, ha, hb, relay *natlab.Host, ice []string, limit time.Duration) outcome {
	o := outcome{a: ha.Router, b: hb.Router}
	relayAddr := relay.Addr.String() + ":7000"
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	run := func(h *natlab.Host, args ...string) *proc {
		p, err := startProc(h, args...)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		return p
	}
	b := run(hb, append([]string{"node", "--network", network, "--connect", relayAddr, "--no-direct"}, ice...)...)
	if b.wait("connect", 10*time.Second, nil) == nil {
		o.reason = "B did not reach the relay"
		return o
	}
	a := run(ha, append([]string{"node", "--network", network, "--connect", relayAddr, "--no-direct", "--want", "2"}, ice...)...)
	ev := a.wait("getnewpeer", limit, nil)
	if ev == nil {
		o.reason = fmt.Sprintf("no introduction within %v", limit)
		if e := a.last("error"); e != nil {
			o.reason = fmt.Sprint(e["error"])
		}
		return o
	}
	o.ok = true
	o.transport, _ = ev["transport"].(string)
	o.candidate, _ = ev["candidate"].(string)
	o.ms, _ = ev["ms"].(float64)
	return o
}

// report logs the matrix and the shares connected.
func report(t *testing.T, name string, results []outcome) {
	sort.SliceStable(results, func(i, j int) bool { return results[i].a < results[j].a })
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%s: A's router x B's router -> how A's GetNewPeer reached B\n", name)
	direct, total := 0, 0
	for _, o := range results {
		if o.ok {
			total++
			if o.candidate != "relay" {
				direct++
			}
			fmt.Fprintf(&sb, "  %-9s x %-9s  %s/%s  %.0f ms\n", o.a, o.b, o.transport, o.candidate, o.ms)
		} else {
			fmt.Fprintf(&sb, "  %-9s x %-9s  not connected: %s\n", o.a, o.b, o.reason)
		}
	}
	fmt.Fprintf(&sb, "  %d of %d pairs connected, %d directly (%.0f %%)\n", total, len(results), direct, 100*float64(direct)/float64(len(results)))
	t.Log(sb.String())
}
