package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

// liveMessage is one message of the live view's stream (/live/events):
// its type (snapshot or log) and its data, decoded with json.Number so
// that a number is checked as it was written.
type liveMessage struct {
	kind string
	data map[string]any
}

// readLive reads the live view's stream at url, and returns its messages
// once enough says they are enough; it fails the test when the stream
// ends, or 20 s pass, before.
func readLive(t *testing.T, url string, enough func([]liveMessage) bool) []liveMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("%s: %s, %s", url, res.Status, ct)
	}
	var msgs []liveMessage
	kind := ""
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			d := json.NewDecoder(strings.NewReader(strings.TrimPrefix(line, "data: ")))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				t.Fatalf("%s: a %s message that is not a JSON object: %v\n%s", url, kind, err, line)
			}
			msgs = append(msgs, liveMessage{kind, m})
			if enough(msgs) {
				return msgs
			}
		}
	}
	t.Fatalf("%s ended (%v) after %d messages, before the ones awaited; the first: %v", url, sc.Err(), len(msgs), msgs[:min(len(msgs), 3)])
	return nil
}

// checkObjects holds the object v, and every object within it, to the
// output conventions, each under its path ("live", "live.stats",
// "live.peers"): the one-type-a-key rule holds across all of them.
func checkObjects(fc *cli.FieldChecker, name string, v any) {
	switch v := v.(type) {
	case map[string]any:
		var fields []any
		for _, k := range slices.Sorted(maps.Keys(v)) {
			fields = append(fields, k, v[k])
			checkObjects(fc, name+"."+k, v[k])
		}
		fc.Check(name, fields)
	case []any:
		for _, x := range v {
			checkObjects(fc, name, x)
		}
	}
}

// checkLive holds every message of the stream to the output conventions:
// each snapshot, and each log line as the event it is. The stats kept for
// one release under their old names (docs/pex.md, "Output conventions")
// must equal their replacements, and are then left out.
func checkLive(t *testing.T, fc *cli.FieldChecker, msgs []liveMessage, kept map[string]string) {
	t.Helper()
	for _, m := range msgs {
		switch m.kind {
		case "snapshot":
			stats, _ := m.data["stats"].(map[string]any)
			for old, now := range kept {
				if stats[old] != stats[now] || stats[now] == nil {
					t.Errorf("the snapshot's stat %q is %v, its replacement %q %v", old, stats[old], now, stats[now])
				}
				delete(stats, old)
			}
			checkObjects(fc, "live", m.data)
		case "log":
			name, _ := m.data["event"].(string)
			delete(m.data, "event")
			checkObjects(fc, name, m.data)
		default:
			t.Errorf("a message of type %q", m.kind)
		}
	}
}

// snapshotWithPeers is readLive's enough: a snapshot with a peer came,
// and n log lines.
func snapshotWithPeers(n int) func([]liveMessage) bool {
	return func(msgs []liveMessage) bool {
		peers, logs := false, 0
		for _, m := range msgs {
			if p, _ := m.data["peers"].([]any); m.kind == "snapshot" && len(p) > 0 {
				peers = true
			}
			if m.kind == "log" {
				logs++
			}
		}
		return peers && logs >= n
	}
}

// What the live view serves (pex node --http and pex bt swarm --http:
// the snapshots and log lines of /live/events, and the page's ICE
// servers) keeps the output conventions, as the events do: keys, units,
// decimals, and one type a key across snapshots and events alike.
func TestLiveViewFields(t *testing.T) {
	fc := cli.NewFieldChecker()

	// A node with a peer.
	a, _ := startNode(t, "--network", "live", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--no-webrtc",
		"--ice-server", "stun:127.0.0.1:3478")
	addr := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "tcp" })["addr"].(string)
	web := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "http" })["addr"].(string)
	b, _ := startNode(t, "--network", "live", "--connect", addr, "--no-webrtc")
	b.wait(t, "connect", nil)
	msgs := readLive(t, "http://"+web+"/live/events", snapshotWithPeers(2))
	checkLive(t, fc, msgs, map[string]string{"getpeers served": "getpeers_served"})

	// The page's ICE servers, a JSON list in /network.js.
	res, err := http.Get("http://" + web + "/network.js")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, list, ok := strings.Cut(string(js), "window.PEX_ICE_SERVERS = ")
	var servers []any
	if !ok || json.Unmarshal([]byte(list), &servers) != nil || len(servers) != 1 {
		t.Fatalf("/network.js: %s", js)
	}
	checkObjects(fc, "ice_servers", servers)

	// A swarm with a peer that exchanged PEX with it.
	sa := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 2)
	defer func() { cancel(); <-done; <-done }()
	go func() {
		done <- run(ctx, []string{"bt", "swarm", "--json", "--infohash", testIH, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"}, sa, io.Discard)
	}()
	peer := sa.wait(t, "listening", func(ev map[string]any) bool { return ev["bound"] == "--listen" })["addr"].(string)
	swarmWeb := sa.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "http" })["addr"].(string)
	go func() {
		done <- run(ctx, []string{"bt", "swarm", "--json", "--infohash", testIH, "--no-listen", "--peer", peer}, io.Discard, io.Discard)
	}()
	sa.wait(t, "connected", nil)
	msgs = readLive(t, "http://"+swarmWeb+"/live/events", snapshotWithPeers(2))
	checkLive(t, fc, msgs, map[string]string{"pex in": "pex_in", "pex out": "pex_out"})

	for _, p := range fc.Problems {
		t.Error(p)
	}
}
