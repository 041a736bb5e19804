package main

// Short-lived TURN credentials (issue 30): pex turn --auth-secret checks
// them, pex node --turn-secret mints them for its upgrades and its page.

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"github.com/seed0021ed4d/pex/turnrest"
)

// writeSecret writes a secret file as an operator would (openssl rand
// -base64 32 > FILE: a trailing newline) and returns its path and the
// secret.
func writeSecret(t *testing.T) (path string, secret []byte) {
	t.Helper()
	secret = []byte("Zm9yIHRoZSBwZXggdGVzdHMsIG5vdCBhIHNlY3JldA==")
	path = filepath.Join(t.TempDir(), "turn-secret")
	if err := os.WriteFile(path, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, secret
}

// startTurn runs pex turn with args in process until the test ends; it
// returns its events and its address.
func startTurn(t *testing.T, args ...string) (*lines, string, func() int) {
	t.Helper()
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"turn", "--json", "--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1"}, args...), out, io.Discard)
	}()
	code, stopped := 0, false
	stop := func() int {
		if !stopped {
			stopped = true
			cancel()
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return out, out.wait(t, "listening", nil)["addr"].(string), stop
}

// allocate asks the TURN server at addr for a relay with pion's client,
// as a browser or a node would.
func allocate(t *testing.T, addr, user, pass string) error {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelDisabled
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Username: user, Password: pass,
		Realm: "pex", Conn: conn, LoggerFactory: logs, RTO: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err == nil {
		relay.Close()
	}
	return err
}

// pex turn --auth-secret takes a fresh credential minted from the secret
// (its allocation is the credential's name's), refuses an expired one and
// a forged one with an auth-refused event each, and counts them in its
// summary.
func TestTurnAuthSecret(t *testing.T) {
	path, secret := writeSecret(t)
	out, addr, stop := startTurn(t, "--auth-secret", path)
	if ev := out.wait(t, "listening", nil); ev["auth_secret"] != true || ev["users"].(float64) != 0 {
		t.Fatalf("listening %v", ev)
	}
	good := turnrest.Mint(secret, "alice", time.Now().Add(time.Minute))
	if err := allocate(t, addr, good.Username, good.Password); err != nil {
		t.Fatalf("a fresh credential: %v", err)
	}
	out.wait(t, "allocation", func(ev map[string]any) bool { return ev["user"] == "alice" })

	expired := turnrest.Mint(secret, "bob", time.Now().Add(-time.Minute))
	if err := allocate(t, addr, expired.Username, expired.Password); err == nil {
		t.Fatal("an expired credential allocated")
	}
	ev := out.wait(t, "auth-refused", func(ev map[string]any) bool { return ev["user"] == expired.Username })
	if ev["reason"] != "expired" || ev["method"] != "Allocate" || !strings.HasPrefix(ev["client"].(string), "127.0.0.1:") {
		t.Fatalf("refusal %v", ev)
	}
	forged := turnrest.Mint([]byte("a guess at the secret, long enough"), "bob", time.Now().Add(time.Minute))
	if err := allocate(t, addr, forged.Username, forged.Password); err == nil {
		t.Fatal("a forged credential allocated")
	}
	if ev := out.wait(t, "auth-refused", func(ev map[string]any) bool { return ev["user"] == forged.Username }); ev["reason"] != "wrong-password" {
		t.Fatalf("refusal %v", ev)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if sum := out.wait(t, "summary", nil); sum["auth_refused"].(float64) != 2 || sum["allocations"].(float64) != 1 {
		t.Fatalf("summary %v", sum)
	}
}

// pex node --turn-secret mints a credential for each of its upgrades,
// named by its id (pex turn reports the allocations by that name), and
// for each load of its page, named by the browser's address, with the
// refresh the page asks for at half the TTL. No warning: the page hands
// out nothing that lasts.
func TestNodeTurnSecret(t *testing.T) {
	path, secret := writeSecret(t)
	turnOut, turnAddr, _ := startTurn(t, "--auth-secret", path, "--allow-private")
	ice := []string{"--ice-server", "stun:" + turnAddr, "--ice-server", "turn:" + turnAddr, "--turn-secret", path, "--turn-ttl", "10m"}

	hub, _ := startNode(t, append([]string{"--network", "ts", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--no-webrtc"}, ice...)...)
	hubAddr := hub.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "tcp" })["addr"].(string)
	httpAddr := hub.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "http" })["addr"].(string)

	before := time.Now()
	js := httpGet(t, "http://"+httpAddr+"/network.js")
	var fresh struct {
		ICEServers []struct {
			URLs                 []string
			Username, Credential string
		} `json:"iceServers"`
		RefreshS float64 `json:"refresh_s"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+httpAddr+"/ice-servers")), &fresh); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if len(fresh.ICEServers) != 2 || fresh.ICEServers[0].Username != "" {
		t.Fatalf("/ice-servers = %+v", fresh)
	}
	c := fresh.ICEServers[1]
	if !strings.Contains(js, `"username":"`) || !strings.Contains(js, ":page-127.0.0.1\"") || !strings.Contains(js, "window.PEX_ICE_REFRESH_S = ") {
		t.Fatalf("/network.js = %s", js)
	}
	name, err := turnrest.Check(secret, c.Username, c.Credential, after)
	expires, _, _ := turnrest.Parse(c.Username)
	if err != nil || name != "page-127.0.0.1" ||
		expires.Before(before.Add(10*time.Minute).Truncate(time.Second)) || expires.After(after.Add(10*time.Minute)) {
		t.Fatalf("the page's credential %q: %q, %v, expires %v", c.Username, name, err, expires)
	}
	if fresh.RefreshS > 5*60 || fresh.RefreshS < 5*60-2 {
		t.Fatalf("refresh_s %v, want half of 10 minutes", fresh.RefreshS)
	}
	if hub.count("turn-credentials-served") != 0 {
		t.Fatal("warned of long-term credentials the page does not carry")
	}

	// Two nodes meet through the hub over WebRTC; each gathers a relayed
	// candidate from pex turn with a credential of its own.
	leaf := func(extra ...string) string {
		out, _ := startNode(t, append(append([]string{"--network", "ts", "--connect", hubAddr, "--no-direct", "--ice-loopback"}, ice...), extra...)...)
		return out.wait(t, "started", nil)["node"].(string)
	}
	b := leaf()
	a := leaf("--want", "2")
	for _, id := range []string{a, b} {
		turnOut.wait(t, "allocation", func(ev map[string]any) bool { return ev["user"] == id })
	}
	if n := turnOut.count("auth-refused"); n != 0 {
		t.Fatalf("%d refusals", n)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The two kinds of credential do not mix, a TTL needs a secret and a
// bound, and a secret must be long enough: each is refused at start,
// exit 2, and the secret is never echoed.
func TestTurnSecretRefused(t *testing.T) {
	path, _ := writeSecret(t)
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("hunter2\n"), 0o600)
	turnURL := []string{"--ice-server", "turn:127.0.0.1:3478"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append([]string{"node", "--turn-secret", path, "--turn-user", "u", "--turn-pass", "p"}, turnURL...), "--turn-secret and --turn-user do not go together: the turn: servers are given one kind of credential"},
		{append([]string{"node", "--turn-secret", path, "--turn-pass-file", path}, turnURL...), "--turn-secret and --turn-pass-file do not go together"},
		{[]string{"node", "--turn-secret", path}, "--turn-secret needs --ice-server turn:HOST:PORT"},
		{append([]string{"node", "--turn-ttl", "2h"}, turnURL...), "--turn-ttl needs --turn-secret"},
		{append([]string{"node", "--turn-secret", path, "--turn-ttl", "30s"}, turnURL...), "--turn-ttl: want 1m to 24h, got 30s"},
		{append([]string{"node", "--turn-secret", path, "--turn-ttl", "-1h"}, turnURL...), "--turn-ttl: want 1m to 24h, got -1h0m0s"},
		{append([]string{"node", "--turn-secret", short}, turnURL...), "--turn-secret: " + short + " holds 7 bytes once trimmed: want a secret of 16 to 1024 bytes"},
		{append([]string{"node", "--no-webrtc", "--turn-secret", path}, turnURL...), "--no-webrtc and --turn-secret do not go together"},
		{[]string{"turn", "--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1", "--auth-secret", short}, "--auth-secret: " + short + " holds 7 bytes once trimmed"},
	} {
		args := c.args
		if args[0] == "node" {
			args = append([]string{"node", "--network", "x"}, args[1:]...)
		}
		var stderr strings.Builder
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) || strings.Contains(stderr.String(), "hunter2") {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}
