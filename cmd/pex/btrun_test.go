package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/swarm"
)

// runSwarm runs pex bt swarm with args (--json added) to its end and
// returns its events, exit code and stderr.
func runSwarm(t *testing.T, args ...string) (*lines, int, string) {
	t.Helper()
	out := newLines()
	var errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, append([]string{"bt", "swarm", "--json"}, args...), out, &errOut)
	return out, code, errOut.String()
}

// closedPort is a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startSwarmCmd runs pex bt swarm --json in the background until the test
// ends and returns its events and listen address.
func startSwarmCmd(t *testing.T, args ...string) (*lines, string) {
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"bt", "swarm", "--json"}, args...), out, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return out, out.wait(t, "listening", nil)["addr"].(string)
}

const testIH = "2123456789abcdef0123456789abcdef01234567"

// defaultListenAt makes pex bt swarm listen on host at the first free
// one of ports when no --listen is given, until the test ends: tests stay
// off the machine's 6881-6889 and its other interfaces.
func defaultListenAt(t *testing.T, host string, ports ...int) {
	h, p := btListenHost, btListenPorts
	btListenHost, btListenPorts = host, ports
	t.Cleanup(func() { btListenHost, btListenPorts = h, p })
}

// An unreachable --peer is reported on every failed dial with the wait
// before the next, and a swarm that never connected by its deadline exits
// 1 saying why, its JSON output ending with a summary that says it too.
func TestBTSwarmNobodyReached(t *testing.T) {
	dead := closedPort(t)
	for _, deadline := range [][]string{{"--bootstrap-timeout", "2s"}, {"--duration", "2s"}} {
		out, code, stderr := runSwarm(t, append([]string{"--infohash", testIH, "--no-listen", "--peer", dead}, deadline...)...)
		if code != 1 || !strings.Contains(stderr, "no peer connected within "+deadline[0]) {
			t.Fatalf("%v: exit %d, stderr %q; want 1 and the reason", deadline, code, stderr)
		}
		df := out.wait(t, "dial-failed", nil)
		if df["peer"] != dead || df["source"] != "manual" || df["reason"] == "" || df["retry_s"].(float64) != 5 {
			t.Fatalf("dial-failed event %v", df)
		}
		last := out.evs[len(out.evs)-1]
		if last["event"] != "summary" || last["connected"].(float64) != 0 || !strings.Contains(last["error"].(string), "no peer connected") {
			t.Fatalf("last event %v, want a summary with the error", last)
		}
	}
	// Nothing to try (no peer, tracker or DHT): not a failure.
	if _, code, stderr := runSwarm(t, "--infohash", testIH, "--no-listen", "--duration", "100ms"); code != 0 {
		t.Fatalf("a swarm with nobody to try exited %d: %s", code, stderr)
	}
}

// --encrypt shows in the connected event and the summary; the summary
// holds every peer with what the text table shows, the listen address of a
// peer that left included.
func TestBTSwarmSummaryAndEncryption(t *testing.T) {
	a, aAddr := startSwarmCmd(t, "--infohash", testIH, "--listen", "127.0.0.1:0")
	out, code, stderr := runSwarm(t, "--infohash", testIH, "--listen", "127.0.0.1:0", "--peer", aAddr, "--encrypt", "--duration", "2s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if ev := out.wait(t, "connected", nil); ev["encrypted"] != true || ev["listen"] != aAddr {
		t.Fatalf("connected event %v, want encrypted and a's listen address", ev)
	}
	// a saw b come and go: the summary of a's view is checked below via b's.
	a.wait(t, "disconnected", nil)
	sum := out.evs[len(out.evs)-1]
	if sum["event"] != "summary" || sum["most_connected"].(float64) != 1 || sum["elapsed_s"].(float64) < 2 {
		t.Fatalf("last event %v, want the summary", sum)
	}
	peers := sum["peer_rows"].([]any)
	if len(peers) != 1 {
		t.Fatalf("summary peers %v", peers)
	}
	p := peers[0].(map[string]any)
	if p["peer"] != aAddr || p["listen"] != aAddr || p["encrypted"] != true || p["source"] != "manual" || !strings.HasPrefix(p["client"].(string), "pex") {
		t.Fatalf("summary row %v", p)
	}
}

// A magnet's x.pe peers are used, unless --no-trackers.
func TestBTSwarmNoTrackers(t *testing.T) {
	dead := closedPort(t)
	magnet := "magnet:?xt=urn:btih:" + testIH + "&x.pe=" + dead
	out, code, _ := runSwarm(t, "--magnet", magnet, "--no-listen", "--duration", "1s")
	if code != 1 || out.wait(t, "dial-failed", nil)["peer"] != dead {
		t.Fatalf("the magnet's x.pe peer was not dialed (exit %d)", code)
	}
	out, code, stderr := runSwarm(t, "--magnet", magnet, "--no-listen", "--duration", "1s", "--no-trackers")
	if code != 0 {
		t.Fatalf("--no-trackers: exit %d: %s", code, stderr)
	}
	for _, ev := range out.evs {
		if ev["event"] == "dial-failed" {
			t.Fatalf("--no-trackers dialed the magnet's peer: %v", ev)
		}
	}
}

// Outgoing connections leave from the --listen host, or --bind's.
func TestBTSwarmBindsOutgoing(t *testing.T) {
	a, aAddr := startSwarmCmd(t, "--infohash", testIH, "--listen", "127.0.0.1:0")
	startSwarmCmd(t, "--infohash", testIH, "--listen", "127.0.0.2:0", "--peer", aAddr)
	if ev := a.wait(t, "connected", nil); !strings.HasPrefix(ev["peer"].(string), "127.0.0.2:") {
		t.Fatalf("the dial from a swarm listening on 127.0.0.2 came from %v", ev["peer"])
	}
	startSwarmCmd(t, "--infohash", testIH, "--listen", "127.0.0.1:0", "--bind", "127.0.0.3", "--peer", aAddr)
	a.wait(t, "connected", func(ev map[string]any) bool { return strings.HasPrefix(ev["peer"].(string), "127.0.0.3:") })
}

// Without --dht-listen or a --listen host, the DHT binds loopback only,
// and says so: the default listen (on every interface; here on 127.0.0.2)
// is no --listen host.
func TestBTSwarmDHTLoopbackByDefault(t *testing.T) {
	defaultListenAt(t, "127.0.0.2", 0)
	out, code, stderr := runSwarm(t, "--infohash", testIH, "--dht-bootstrap", closedPort(t), "--duration", "200ms")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ev := out.wait(t, "dht", nil)
	if !strings.HasPrefix(ev["addr"].(string), "127.0.0.1:") || !strings.Contains(ev["bound"].(string), "loopback only") {
		t.Fatalf("dht event %v", ev)
	}
}

// The summary's holepunching object carries every counter of
// swarm.HolepunchStats, the BEP 55 errors apart by role and code.
func TestHolepunchFields(t *testing.T) {
	h := swarm.HolepunchStats{Undialable: 1, Reached: 2, RendezvousSent: 3, RendezvousReceived: 4, ConnectsRelayed: 5,
		ConnectsReceived: 6, Introductions: 7, Limited: 8, Malformed: 9,
		Outcomes:       map[string]uint64{"connected": 2, "no-support": 3},
		ErrorsSent:     map[string]uint64{"no-support": 1},
		ErrorsReceived: map[string]uint64{"no-support": 2, "not-connected": 1}}
	f := holepunchFields(h)
	for k, want := range map[string]uint64{"undialable": 1, "reached": 2, "rendezvous_sent": 3, "rendezvous_received": 4, "connects_relayed": 5,
		"connects_received": 6, "introductions": 7, "limited": 8, "malformed": 9} {
		if f[k] != want {
			t.Errorf("%s: %v, want %d", k, f[k], want)
		}
	}
	for k, want := range map[string]map[string]uint64{"outcomes": h.Outcomes, "errors_sent": h.ErrorsSent, "errors_received": h.ErrorsReceived} {
		got, _ := f[k].(map[string]any)
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", k, got, want)
		}
		for code, n := range want {
			if got[code] != n {
				t.Errorf("%s[%s]: %v, want %d", k, code, got[code], n)
			}
		}
	}
}
