package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/seed0021ed4d/pex/peerstore"
)

// A node remembers the peer it bootstrapped from and, started again
// with --state alone, finds its way back to it; a second node on the same
// directory is refused while the first runs.
func TestNodeState(t *testing.T) {
	dir := t.TempDir()
	a, _ := startNode(t, "--network", "st", "--listen", "127.0.0.1:0")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	b, stopB := startNode(t, "--network", "st", "--connect", addr, "--state", dir, "--no-webrtc")
	if n := b.wait(t, "state", nil)["peers"].(float64); n != 0 {
		t.Fatalf("a fresh state holds %v peers", n)
	}
	b.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "tcp" })
	var stderr strings.Builder
	if code := run(context.Background(), []string{"node", "--network", "st", "--state", dir, "--duration", "1ms"}, io.Discard, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "held by another process") {
		t.Fatalf("a second node on the same --state exited %d: %s", code, stderr.String())
	}
	if code := stopB(); code != 0 {
		t.Fatalf("b exited %d", code)
	}
	if n := b.wait(t, "state-saved", nil)["peers"].(float64); n != 1 {
		t.Fatalf("b saved %v peers, want 1", n)
	}
	peers := readState(t, filepath.Join(dir, "pxp-peers.json"), "pxp:st")
	if len(peers) != 1 || peers[0].Addr != addr || peers[0].Source != "connect" || peers[0].Successes != 1 {
		t.Fatalf("state %+v", peers)
	}
	b2, _ := startNode(t, "--network", "st", "--state", dir, "--no-webrtc")
	if n := b2.wait(t, "state", nil)["peers"].(float64); n != 1 {
		t.Fatalf("the restarted node remembers %v peers", n)
	}
	b2.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "tcp" && ev["remote"] == addr })
}

func readState(t *testing.T, path, scope string) []peerstore.Peer {
	t.Helper()
	st, err := peerstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return st.Peers(scope)
}

// pex bt swarm remembers the peers it connected to per infohash and
// dials them at the next start (source "state").
func TestBTSwarmState(t *testing.T) {
	dir := t.TempDir()
	ih := "00112233445566778899aabbccddeeff00112233"
	start := func(args ...string) (*lines, func()) {
		out := newLines()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, append([]string{"bt", "swarm", "--infohash", ih, "--json", "--listen", "127.0.0.1:0"}, args...), out, io.Discard)
		}()
		var once sync.Once
		stop := func() { once.Do(func() { cancel(); <-done }) }
		t.Cleanup(stop)
		return out, stop
	}
	a, _ := start()
	aAddr := a.wait(t, "listening", nil)["addr"].(string)
	b, stopB := start("--peer", aAddr, "--state", dir)
	b.wait(t, "connected", func(ev map[string]any) bool { return ev["peer"] == aAddr })
	stopB()
	b.wait(t, "state-saved", func(ev map[string]any) bool { return ev["peers"].(float64) == 1 })
	peers := readState(t, filepath.Join(dir, "bt-peers.json"), "bt:"+ih)
	if len(peers) != 1 || peers[0].Addr != aAddr || peers[0].Source != "manual" {
		t.Fatalf("state %+v", peers)
	}
	b2, _ := start("--state", dir)
	b2.wait(t, "connected", func(ev map[string]any) bool { return ev["peer"] == aAddr && ev["source"] == "state" })
}

// The state a clean stop wrote survives a later run killed with SIGKILL:
// the file is whole, and a third run bootstraps from it. (A kill in the
// middle of a write is peerstore's TestKilledMidWrite.)
func TestStateSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	dir := t.TempDir()
	a, _ := startNode(t, "--network", "kill", "--listen", "127.0.0.1:0")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	b, stopB := startNode(t, "--network", "kill", "--connect", addr, "--state", dir, "--no-webrtc")
	b.wait(t, "connect", nil)
	stopB()
	path := filepath.Join(dir, "pxp-peers.json")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "node", "--network", "kill", "--state", dir, "--no-webrtc", "--json")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var ev map[string]any
		json.Unmarshal(sc.Bytes(), &ev)
		if ev["event"] == "connect" { // bootstrapped from the state, then killed
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	after, err := os.ReadFile(path)
	if err != nil || string(after) != string(before) {
		t.Fatalf("the state changed under a kill: %v\nbefore %s\nafter %s", err, before, after)
	}
	b3, _ := startNode(t, "--network", "kill", "--state", dir, "--no-webrtc")
	b3.wait(t, "connect", func(ev map[string]any) bool { return ev["remote"] == addr })
}
