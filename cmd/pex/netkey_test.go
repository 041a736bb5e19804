package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/psk"
	"github.com/seed0021ed4d/pex/transport/ws"
)

// keygen writes a key file and returns its path and fingerprint.
func keygen(t *testing.T) (path, fingerprint string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "network.key")
	out := newLines()
	if code := run(context.Background(), []string{"keygen", "--out", path, "--json"}, out, io.Discard); code != 0 {
		t.Fatalf("keygen: exit %d", code)
	}
	ev := out.wait(t, "keygen", nil)
	return path, ev["fingerprint"].(string)
}

func TestKeygen(t *testing.T) {
	path, fp := keygen(t)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	k, err := psk.LoadKey(path)
	if err != nil || k.Fingerprint() != fp {
		t.Fatalf("%v: fingerprint %s, printed %s", err, k.Fingerprint(), fp)
	}
	before, _ := os.ReadFile(path)
	var errOut strings.Builder
	if code := run(context.Background(), []string{"keygen", "--out", path}, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "never overwrites") {
		t.Fatalf("over an existing file: exit %d, %q", code, errOut.String())
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("the key was overwritten")
	}
}

// A key file that is not one, or is missing, is refused at start naming
// --network-key, without echoing the file; the page of --http cannot
// join a private network; a key others may read is warned of.
func TestNodeNetworkKeyChecks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), mode)
		os.Chmod(p, mode)
		return p
	}
	secret := strings.Repeat("ab", 31)
	for _, tc := range []struct {
		path, says string
	}{
		{write("short", psk.FileHeader+"\n/base16/\n"+secret+"\n", 0o600), "the key is 31 bytes, want 32"},
		{write("bare", secret+"cd\n", 0o600), "the first line is not " + psk.FileHeader},
		{filepath.Join(dir, "missing"), "cannot read"},
	} {
		var errOut strings.Builder
		code := run(context.Background(), []string{"node", "--network", "n", "--network-key", tc.path}, io.Discard, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "--network-key") || !strings.Contains(errOut.String(), tc.says) {
			t.Errorf("%s: exit %d, %q; want 2 saying %q", tc.path, code, errOut.String(), tc.says)
		}
		if strings.Contains(errOut.String(), secret[:16]) {
			t.Errorf("the error shows the file: %q", errOut.String())
		}
	}
	path, _ := keygen(t)
	var errOut strings.Builder
	if code := run(context.Background(), []string{"node", "--network", "n", "--network-key", path, "--http", "127.0.0.1:0"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "browsers") {
		t.Errorf("--http: exit %d, %q", code, errOut.String())
	}
	os.Chmod(path, 0o644)
	a, _ := startNode(t, "--network", "n", "--network-key", path, "--listen", "127.0.0.1:0")
	if ev := a.wait(t, "network-key-readable", nil); ev["mode"] != "0644" {
		t.Errorf("warning %v", ev)
	}
}

// Two pex node processes sharing a key file link and introduce each other
// (over WebRTC, keyed too); a process without the key, and one with
// another, are refused on both sides with a network-key event, and the
// keyed node's links carry on; a Go program holding the key joins over
// WebSocket, one without it is refused.
func TestBinaryNodeNetworkKey(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	keyPath, fp := keygen(t)
	otherKey, _ := keygen(t)
	a, _ := startNode(t, "--network", "priv", "--listen", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--network-key", keyPath, "--no-direct", "--ice-loopback")
	listening := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "tcp" })
	addr := listening["addr"].(string)
	if listening["network_key"] != fp {
		t.Fatalf("listening %v: want the key's fingerprint %s", listening, fp)
	}
	wsAddr := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "ws" })["addr"].(string)

	proc := func(args ...string) *lines {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"node", "--json", "--network", "priv"}, args...)...)
		out := newLines()
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Kill() // the process this test started, by its id
			<-done
		})
		return out
	}
	b := proc("--connect", addr, "--network-key", keyPath, "--no-direct", "--ice-loopback", "--hello", "hi from b")
	b.wait(t, "connect", func(ev map[string]any) bool { return ev["remote"] == addr })
	c := proc("--connect", addr, "--network-key", keyPath, "--no-direct", "--ice-loopback", "--want", "2", "--hello", "hi from c")
	c.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "webrtc" })
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from c" && ev["transport"] == "webrtc" })

	// Refused: without a key, and with another.
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"keyless", nil, "asks for a network key; this node has none"},
		{"another key", []string{"--network-key", otherKey}, "holds another network key"},
	} {
		out := proc(append([]string{"--connect", addr, "--no-webrtc"}, tc.args...)...)
		ev := out.wait(t, "network-key", nil)
		if ev["side"] != "outgoing" || !strings.Contains(ev["reason"].(string), tc.says) || ev["retry_s"] == nil {
			t.Errorf("%s: %v, want it to say %q", tc.name, ev, tc.says)
		}
	}
	if ev := a.wait(t, "network-key", func(ev map[string]any) bool { return strings.Contains(ev["reason"].(string), "no network key") }); ev["side"] != "incoming" || ev["transport"] != "tcp" {
		t.Errorf("a's event %v", ev)
	}
	a.wait(t, "network-key", func(ev map[string]any) bool { return strings.Contains(ev["reason"].(string), "another network key") })

	// Over WebSocket: a program with the key joins, one without is refused.
	k, _ := psk.LoadKey(keyPath)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, key := range []*psk.Key{k, nil} {
		ex, _ := pxp.New("priv", &pxp.Config{NetworkKey: key})
		defer ex.Close()
		wc, err := ws.Dial(ctx, "ws://"+wsAddr+"/")
		if err != nil {
			t.Fatal(err)
		}
		_, err = ex.Connect(ctx, wc)
		if key != nil && err != nil {
			t.Fatalf("keyed over ws: %v", err)
		}
		if key == nil && !strings.Contains(errString(err), "network key mismatch") {
			t.Fatalf("keyless over ws: %v", err)
		}
	}
	a.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "ws" })
	a.wait(t, "network-key", func(ev map[string]any) bool { return ev["transport"] == "ws" })

	// The keyed links are untouched: a, b and c still hold theirs.
	before := b.count("disconnect")
	time.Sleep(300 * time.Millisecond)
	if b.count("disconnect") != before || c.count("disconnect") != 0 {
		t.Fatalf("keyed links dropped: b %d, c %d", b.count("disconnect"), c.count("disconnect"))
	}
}
