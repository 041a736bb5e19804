package nat

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/internal/natlab"
)

// jsNode runs the JS reference (testdata/js/node.js) in host h.
type jsNode struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // commands: getnewpeer, ...
	mu     sync.Mutex
	events []map[string]any
	done   chan struct{}
}

// jsScript is the JS reference's driver, or "" (the test is skipped, or
// fails under CI=true) when Node or the pinned packages are missing.
func jsScript(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(filepath.Dir(file)), "testdata", "js")
	_, errNode := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(dir, "node_modules", "peer-exchange"))
	if errNode != nil || errMod != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the JS reference is not installed (node, and npm ci in testdata/js)")
		}
		t.Skip("the JS reference is not installed (node, and npm ci in testdata/js)")
	}
	return filepath.Join(dir, "node.js")
}

func startJS(t *testing.T, h *natlab.Host, script string, args ...string) *jsNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	j := &jsNode{cmd: h.Command(ctx, "node", append([]string{script}, args...)...), done: make(chan struct{})}
	j.cmd.Dir = filepath.Dir(script)
	out, err := j.cmd.StdoutPipe()
	if err == nil {
		j.stdin, err = j.cmd.StdinPipe() // open until the process ends: the driver quits at its end
	}
	if err == nil {
		err = j.cmd.Start()
	}
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer close(j.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				j.mu.Lock()
				j.events = append(j.events, ev)
				j.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		j.cmd.Process.Kill() // the node process we started, by its id
		<-j.done
		j.cmd.Wait()
		cancel()
	})
	return j
}

// last returns the last event named name, or nil.
func (j *jsNode) last(name string) map[string]any {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := len(j.events) - 1; i >= 0; i-- {
		if j.events[i]["event"] == name {
			return j.events[i]
		}
	}
	return nil
}

func (j *jsNode) has(name string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ev := range j.events {
		if ev["event"] == name {
			return true
		}
	}
	return false
}

// A Go node behind every kind of router reaches a JS reference node behind
// every kind of router, with STUN and TURN: every pair connects, directly
// wherever a punch can join them.
func TestGoMeetsJSAcrossNATs(t *testing.T) {
	script := jsScript(t)
	l := natlab.New(t)
	stun := l.PublicHost("stun")
	relay := l.PublicHost("relay")
	start(t, stun, "turn", "--listen", stun.Addr.String()+":3478", "--relay-ip", stun.Addr.String(), "--user", "lab:lab")
	if start(t, relay, "node", "--network", network, "--listen", relay.Addr.String()+":7000", "--no-webrtc").wait("listening", 10*time.Second, nil) == nil {
		t.Fatal("the relay did not start")
	}
	kinds := []natlab.Router{natlab.Public, natlab.EIM, natlab.Symmetric, natlab.Firewall}
	goHosts, jsHosts := map[natlab.Router]*natlab.Host{}, map[natlab.Router]*natlab.Host{}
	for _, k := range kinds {
		goHosts[k], jsHosts[k] = l.HomeHost("g"+k.String(), k, 5000), l.HomeHost("j"+k.String(), k, 5000)
	}
	stunURL, turnURL := "stun:"+stun.Addr.String()+":3478", "turn:"+stun.Addr.String()+":3478"
	relayAddr := relay.Addr.String() + ":7000"
	var results []outcome
	for _, kg := range kinds {
		for _, kj := range kinds {
			o := outcome{a: kg, b: kj}
			func() {
				js := startJS(t, jsHosts[kj], script, "--network", network, "--connect", relayAddr,
					"--ice-server", stunURL, "--ice-server", turnURL, "--turn-user", "lab", "--turn-pass", "lab")
				for end := time.Now().Add(10 * time.Second); !js.has("peer") && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				}
				if !js.has("peer") {
					o.reason = "the JS node did not reach the relay"
					return
				}
				defer js.cmd.Process.Kill()
				g, err := startProc(goHosts[kg], "node", "--network", network, "--connect", relayAddr, "--no-direct", "--want", "2",
					"--ice-server", stunURL, "--ice-server", turnURL, "--turn-user", "lab", "--turn-pass", "lab")
				if err != nil {
					t.Fatal(err)
				}
				defer g.stop()
				ev := g.wait("getnewpeer", 25*time.Second, nil)
				if ev == nil {
					o.reason = "no introduction within 25 s"
					if e := g.last("error"); e != nil {
						o.reason, _ = e["error"].(string)
					}
					return
				}
				o.ok = true
				o.transport, _ = ev["transport"].(string)
				o.candidate, _ = ev["candidate"].(string)
				o.ms, _ = ev["ms"].(float64)
			}()
			results = append(results, o)
		}
	}
	report(t, "Go (A) meets the JS reference (B), STUN and TURN", results)
	for _, o := range results {
		switch {
		case !o.ok:
			t.Errorf("Go behind %s, JS behind %s: not connected: %s", o.a, o.b, o.reason)
		case o.transport != "webrtc":
			t.Errorf("Go behind %s, JS behind %s: %s, not WebRTC", o.a, o.b, o.transport)
		case punchable(o.a, o.b) && o.candidate == "relay":
			t.Errorf("Go behind %s, JS behind %s: relayed, though a direct path exists", o.a, o.b)
		}
	}
}

// The other direction: the JS reference behind each kind of router asks
// the relay for a new peer and reaches a Go node behind each kind of
// router. How the pair connected is read from the Go node's connect event.
func TestJSMeetsGoAcrossNATs(t *testing.T) {
	script := jsScript(t)
	l := natlab.New(t)
	stun := l.PublicHost("stun")
	relay := l.PublicHost("relay")
	start(t, stun, "turn", "--listen", stun.Addr.String()+":3478", "--relay-ip", stun.Addr.String(), "--user", "lab:lab")
	if start(t, relay, "node", "--network", network, "--listen", relay.Addr.String()+":7000", "--no-webrtc").wait("listening", 10*time.Second, nil) == nil {
		t.Fatal("the relay did not start")
	}
	kinds := []natlab.Router{natlab.Public, natlab.EIM, natlab.Symmetric, natlab.Firewall}
	goHosts, jsHosts := map[natlab.Router]*natlab.Host{}, map[natlab.Router]*natlab.Host{}
	for _, k := range kinds {
		goHosts[k], jsHosts[k] = l.HomeHost("g"+k.String(), k, 5000), l.HomeHost("j"+k.String(), k, 5000)
	}
	stunURL, turnURL := "stun:"+stun.Addr.String()+":3478", "turn:"+stun.Addr.String()+":3478"
	relayAddr := relay.Addr.String() + ":7000"
	var results []outcome
	for _, kj := range kinds {
		for _, kg := range kinds {
			o := outcome{a: kj, b: kg}
			func() {
				g, err := startProc(goHosts[kg], "node", "--network", network, "--connect", relayAddr, "--no-direct",
					"--ice-server", stunURL, "--ice-server", turnURL, "--turn-user", "lab", "--turn-pass", "lab")
				if err != nil {
					t.Fatal(err)
				}
				defer g.stop()
				if g.wait("connect", 10*time.Second, nil) == nil {
					o.reason = "the Go node did not reach the relay"
					return
				}
				js := startJS(t, jsHosts[kj], script, "--network", network, "--connect", relayAddr,
					"--ice-server", stunURL, "--ice-server", turnURL, "--turn-user", "lab", "--turn-pass", "lab")
				defer js.cmd.Process.Kill()
				for end := time.Now().Add(10 * time.Second); !js.has("peer") && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				}
				if !js.has("peer") {
					o.reason = "the JS node did not reach the relay"
					return
				}
				io.WriteString(js.stdin, "getnewpeer\n")
				ev := g.wait("connect", 25*time.Second, func(ev map[string]any) bool { return ev["transport"] == "webrtc" })
				if ev == nil {
					o.reason = "no WebRTC link within 25 s"
					if e := js.last("getnewpeer"); e != nil {
						o.reason, _ = e["error"].(string)
					}
					return
				}
				o.ok = true
				o.transport, _ = ev["transport"].(string)
				o.candidate, _ = ev["candidate"].(string)
				for end := time.Now().Add(5 * time.Second); !js.has("getnewpeer") && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				}
				if e := js.last("getnewpeer"); e != nil {
					o.ms, _ = e["ms"].(float64)
				}
			}()
			results = append(results, o)
		}
	}
	report(t, "the JS reference (A) meets Go (B), STUN and TURN", results)
	// Every pair must connect. Which pair of candidates carries the link is
	// the requester's choice here: the JS node's libwebrtc is the
	// controlling agent and may nominate a relayed pair that succeeded
	// first, where pion, controlling in the other direction, waits for a
	// direct one (TestGoMeetsJSAcrossNATs holds that direction to it).
	for _, o := range results {
		if !o.ok {
			t.Errorf("JS behind %s, Go behind %s: not connected: %s", o.a, o.b, o.reason)
		}
	}
}
