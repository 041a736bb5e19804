package nat

import (
	"bufio"
	"context"
	"encoding/json"
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
		_, err = j.cmd.StdinPipe() // open until the process ends: the driver quits at its end
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
