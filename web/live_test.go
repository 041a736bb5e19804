package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The stream: a snapshot at once and then every LiveInterval, the log
// backlog to a late page, log entries as they come, and no more than
// MaxLiveViewers pages at once.
func TestLiveStream(t *testing.T) {
	var n atomic.Int64
	l := NewLive(func() any { return map[string]int64{"n": n.Add(1)} })
	l.Log(map[string]string{"event": "before"})
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	defer l.Close()
	res, err := http.Get(srv.URL + "/live/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	next := func() (string, string) {
		var ev, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && ev != "":
				return ev, data
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return "", ""
	}
	if ev, data := next(); ev != "snapshot" || data != `{"n":1}` {
		t.Fatalf("first %s %s", ev, data)
	}
	if ev, data := next(); ev != "log" || data != `{"event":"before"}` {
		t.Fatalf("backlog %s %s", ev, data)
	}
	l.Log(map[string]string{"event": "after"})
	if ev, data := next(); ev != "log" || data != `{"event":"after"}` {
		t.Fatalf("live %s %s", ev, data)
	}
	if ev, _ := next(); ev != "snapshot" {
		t.Fatalf("no snapshot a LiveInterval later: %s", ev)
	}
	// The page and its library are served.
	for _, p := range []string{"/live", "/live.js", "/vendor/cytoscape-3.35.0.min.js"} {
		r, err := http.Get(srv.URL + p)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, r.Status)
		}
		r.Body.Close()
	}
	// Past MaxLiveViewers, 503.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 1; i < MaxLiveViewers; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/live/events", nil)
		r, err := http.DefaultClient.Do(req)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("viewer %d: %v", i, err)
		}
		defer r.Body.Close()
	}
	r, err := http.Get(srv.URL + "/live/events")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("viewer %d: %s", MaxLiveViewers+1, r.Status)
	}
	cancel()
}

type liveState struct {
	Peers []string `json:"peers"`
	Nodes int      `json:"nodes"`
	Edges int      `json:"edges"`
	Log   int      `json:"log"`
	Rows  int      `json:"rows"`
}

var liveStateLine = regexp.MustCompile(`LIVE-STATE (\{.*?\})"`)

// chromiumStates runs script (which starts pex processes and headless
// Chromium on the live page, its stderr in $DIR/chrome.log) in a network
// namespace of its own, and returns what the page reported, in order.
func chromiumStates(t *testing.T, script string) ([]liveState, string) {
	t.Helper()
	chromium := need(t, "chromium")
	need(t, "unshare")
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pex")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/pex").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	chrome := fmt.Sprintf(`timeout 60 %s --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir=%s/profile \
  --enable-logging=stderr --v=0`, chromium, dir)
	script = strings.NewReplacer("$PEX", bin, "$DIR", dir, "$CHROME", chrome).Replace("set -e\nip link set lo up\n" + script)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("namespace script: %v\n%s", err, out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "chrome.log"))
	var states []liveState
	for _, m := range liveStateLine.FindAllSubmatch(log, -1) {
		var s liveState
		if json.Unmarshal(m[1], &s) == nil {
			states = append(states, s)
		}
	}
	return states, dir
}

// waitState is the shell loop that waits (at most 30 s) for the page to
// report a state matching the grep pattern pat.
func waitState(pat string) string {
	return fmt.Sprintf("for i in $(seq 1 300); do grep -q '%s' $DIR/chrome.log 2>/dev/null && break; sleep 0.1; done\n", pat)
}

// The node's live page in headless Chromium shows the two peers the test
// started, in its table and its graph, and drops the one that leaves.
func TestLiveNodePageInChromium(t *testing.T) {
	script := `$PEX node --network live --listen 127.0.0.1:7411 --http 127.0.0.1:7412 --json > $DIR/a.log 2>&1 &
a=$!
for i in $(seq 1 50); do grep -q '"transport":"http"' $DIR/a.log && break; sleep 0.1; done
$PEX node --network live --connect 127.0.0.1:7411 --no-webrtc --json > $DIR/b.log 2>&1 &
b=$!
$PEX node --network live --connect 127.0.0.1:7411 --no-webrtc --json > $DIR/c.log 2>&1 &
c=$!
$CHROME "http://127.0.0.1:7412/live?report=1" > $DIR/chrome.log 2>&1 &
chrome=$!
` + waitState(`LIVE-STATE {"peers":\["[0-9a-f]*","[0-9a-f]*"\]`) + `kill $c
` + waitState(`LIVE-STATE {"peers":\["[0-9a-f]*"\]`) + `kill $chrome $a $b 2>/dev/null || true
wait 2>/dev/null || true
`
	states, dir := chromiumStates(t, script)
	ids := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		var ev struct{ Node string }
		for _, line := range strings.Split(string(b), "\n") {
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Node != "" {
				return ev.Node
			}
		}
		t.Fatalf("no node id in %s: %s", name, b)
		return ""
	}
	b, c := ids("b.log"), ids("c.log")
	both := slices.IndexFunc(states, func(s liveState) bool {
		return len(s.Peers) == 2 && slices.Contains(s.Peers, b) && slices.Contains(s.Peers, c) && s.Rows == 2 && s.Nodes == 3 && s.Edges == 2
	})
	if both < 0 {
		t.Fatalf("the page never showed b %s and c %s: %+v", b, c, states)
	}
	after := slices.IndexFunc(states[both:], func(s liveState) bool {
		return len(s.Peers) == 1 && s.Peers[0] == b && s.Rows == 1 && s.Nodes == 2 && s.Log > 0
	})
	if after < 0 {
		t.Fatalf("the page did not drop c after it left: %+v", states[both:])
	}
	t.Logf("the page showed %+v, then %+v (%d renders)", states[both], states[both+after], len(states))
}

// A swarm's live page shows its peers and who named whom: A's peers B and
// C, the edges A learned from their PEX messages, and B alone after C
// leaves.
func TestLiveSwarmPageInChromium(t *testing.T) {
	const ih = "0123456789abcdef0123456789abcdef01234567"
	script := `$PEX bt swarm --infohash ` + ih + ` --listen 127.0.0.1:7421 --http 127.0.0.1:7422 --json > $DIR/a.log 2>&1 &
a=$!
for i in $(seq 1 50); do grep -q '"transport":"http"' $DIR/a.log && break; sleep 0.1; done
$PEX bt swarm --infohash ` + ih + ` --listen 127.0.0.1:7423 --peer 127.0.0.1:7421 --json > $DIR/b.log 2>&1 &
b=$!
$PEX bt swarm --infohash ` + ih + ` --listen 127.0.0.1:7424 --peer 127.0.0.1:7421 --json > $DIR/c.log 2>&1 &
c=$!
$CHROME "http://127.0.0.1:7422/live?report=1" > $DIR/chrome.log 2>&1 &
chrome=$!
` + waitState(`LIVE-STATE {"peers":\["127.0.0.1:7423","127.0.0.1:7424"\],"nodes":3,"edges":[3-9]`) + `kill $c
` + waitState(`LIVE-STATE {"peers":\["127.0.0.1:7423"\]`) + `kill $chrome $a $b 2>/dev/null || true
wait 2>/dev/null || true
`
	states, _ := chromiumStates(t, script)
	both := slices.IndexFunc(states, func(s liveState) bool {
		// A's two links, and at least one edge learned from a PEX message:
		// B and C each name the other to A once they have met, but BEP
		// 11's pace (a message a minute) may hold the second naming past
		// the test's window when the first message went out before they
		// met.
		return slices.Equal(s.Peers, []string{"127.0.0.1:7423", "127.0.0.1:7424"}) && s.Nodes == 3 && s.Edges >= 3 && s.Rows == 2
	})
	if both < 0 {
		t.Fatalf("the page never showed B and C with who named whom: %+v", states)
	}
	after := slices.IndexFunc(states[both:], func(s liveState) bool {
		return slices.Equal(s.Peers, []string{"127.0.0.1:7423"}) && s.Rows == 1
	})
	if after < 0 {
		t.Fatalf("the page did not drop C after it left: %+v", states[both:])
	}
	t.Logf("the page showed %+v, then %+v (%d renders)", states[both], states[both+after], len(states))
}
