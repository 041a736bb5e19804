package main

// Issue 27's findings on the command line: what pex refuses at start,
// what it says when a run cannot go on, and what it prints at its end.

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

// A socket that cannot be bound fails the start naming its flag (exit 1),
// before any other socket is announced.
func TestNodeBindFailureNamesFlag(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	for _, f := range []string{"--http", "--ws", "--metrics", "--listen"} {
		var stdout, stderr strings.Builder
		args := []string{"node", "--network", "x", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", f, addr}
		if f == "--listen" {
			args = []string{"node", "--network", "x", "--http", "127.0.0.1:0", "--listen", addr}
		}
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 1 || stderr.String() != "pex: "+f+" "+addr+": address already in use\n" || strings.Contains(stdout.String(), "listening") {
			t.Errorf("%s busy: exit %d\nstdout %s\nstderr %s", f, code, stdout.String(), stderr.String())
		}
	}
}

// A corrupt or empty --state file only held remembered peers: it is moved
// aside with a state-corrupt event and the node starts fresh.
func TestNodeStateCorrupt(t *testing.T) {
	for _, bad := range []string{"garbage", ""} {
		dir := t.TempDir()
		path := filepath.Join(dir, "pxp-peers.json")
		os.WriteFile(path, []byte(bad), 0o600)
		out := newLines()
		var stderr strings.Builder
		if code := run(context.Background(), []string{"node", "--json", "--network", "st", "--state", dir, "--duration", "100ms"}, out, &stderr); code != 0 {
			t.Fatalf("%q: exit %d: %s", bad, code, stderr.String())
		}
		ev := out.wait(t, "state-corrupt", nil)
		aside, _ := ev["moved_to"].(string)
		if ev["path"] != path || !strings.HasPrefix(aside, path+".corrupt-") || ev["reason"] == "" {
			t.Fatalf("%q: %v", bad, ev)
		}
		if b, err := os.ReadFile(aside); err != nil || string(b) != bad {
			t.Fatalf("%q: the file moved aside holds %q, %v", bad, b, err)
		}
		if n := out.wait(t, "state", nil)["peers"].(float64); n != 0 {
			t.Fatalf("%q: %v peers", bad, n)
		}
		if peers := readState(t, path, "pxp:st"); len(peers) != 0 {
			t.Fatalf("%q: the fresh state holds %v", bad, peers)
		}
	}
}

// The TURN password comes from a file or the environment, off the command
// line; the page --http serves hands it out, and a warning says so.
func TestNodeTurnPassword(t *testing.T) {
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	os.WriteFile(passFile, []byte("from-file\n"), 0o600)
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--turn-pass-file", passFile}, "", "from-file"},
		{nil, "from-env", "from-env"},
		{[]string{"--turn-pass", "from-flag"}, "from-env", "from-flag"},
	} {
		t.Setenv("PEX_TURN_PASS", c.env)
		args := append([]string{"--network", "t", "--http", "127.0.0.1:0", "--ice-server", "turn:127.0.0.1:3478", "--turn-user", "u"}, c.args...)
		out, stop := startNode(t, args...)
		warn := out.wait(t, "turn-credentials-served", nil)
		if warn["user"] != "u" || warn["http"] == "" {
			t.Fatalf("warning %v", warn)
		}
		addr := out.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "http" })["addr"].(string)
		resp, err := http.Get("http://" + addr + "/network.js")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), `"credential":"`+c.want+`"`) {
			t.Fatalf("%v: the page does not carry the password %q", c.args, c.want)
		}
		stop()
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--turn-pass-file", filepath.Join(dir, "missing")}, "--turn-pass-file: cannot read " + filepath.Join(dir, "missing") + ": no such file"},
		{[]string{"--turn-pass-file", passFile, "--turn-pass", "x"}, "--turn-pass and --turn-pass-file do not go together"},
	} {
		var stderr strings.Builder
		args := append([]string{"node", "--network", "t", "--ice-server", "turn:127.0.0.1:3478", "--turn-user", "u"}, c.args...)
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// pex turn takes its users from --user-file and PEX_TURN_USERS as well as
// --user, never echoing a password, and prints a summary at its end.
func TestTurnUsers(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("# the lab\nalice:a1\n\nbob:b2\n"), 0o600)
	t.Setenv("PEX_TURN_USERS", "carol:c3,dave:d4")
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"turn", "--json", "--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1", "--user-file", users, "--user", "eve:e5"}, out, io.Discard)
	}()
	if n := out.wait(t, "listening", nil)["users"].(float64); n != 5 {
		t.Fatalf("%v users, want 5", n)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	sum := out.wait(t, "summary", nil)
	if sum["users"].(float64) != 5 || sum["allocations"].(float64) != 0 || sum["stop"] != "canceled" {
		t.Fatalf("summary %v", sum)
	}
	os.WriteFile(users, []byte("alice:a1\nbob s3cret\n"), 0o600)
	var stderr strings.Builder
	if code := run(context.Background(), []string{"turn", "--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1", "--user-file", users}, io.Discard, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "--user-file: "+users+" line 2: want NAME:PASSWORD") || strings.Contains(stderr.String(), "s3cret") {
		t.Fatalf("a bad line: exit %d, %q", code, stderr.String())
	}
	t.Setenv("PEX_TURN_USERS", "alice:other")
	os.WriteFile(users, []byte("alice:a1\n"), 0o600)
	stderr.Reset()
	if code := run(context.Background(), []string{"turn", "--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1", "--user-file", users}, io.Discard, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), `PEX_TURN_USERS: entry 1: user "alice" is given twice (and in --user-file)`) {
		t.Fatalf("a user twice: exit %d, %q", code, stderr.String())
	}
}

// An interrupted demo says so and exits as shells expect (130 for
// SIGINT), not "timed out" and 1.
func TestDemoInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&cli.SignalError{Signal: syscall.SIGINT})
	var stderr strings.Builder
	if code := run(ctx, []string{"demo", "--nodes", "4", "--want", "4", "--json"}, io.Discard, &stderr); code != 130 ||
		!strings.HasPrefix(stderr.String(), "pex: demo: interrupted after ") || strings.Contains(stderr.String(), "timed out") {
		t.Fatalf("exit %d, %q", code, stderr.String())
	}
	if testing.Short() {
		return
	}
	// The built binary, by a real SIGINT.
	cmd := exec.Command(buildPex(t), "demo", "--nodes", "200", "--want", "200", "--no-webrtc", "--json")
	stdout, _ := cmd.StdoutPipe()
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Scan() // the bootstrap node listening: the nodes are starting
	cmd.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, stdout)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || !strings.Contains(errOut.String(), "demo: interrupted") {
		t.Fatalf("SIGINT: %v, %q", err, errOut.String())
	}
}

// --quiet prints the events only: no prose, no table; the demo's summary
// is then an event.
func TestDemoQuiet(t *testing.T) {
	var out strings.Builder
	if code := run(context.Background(), []string{"demo", "--nodes", "2", "--want", "1", "--no-webrtc", "--quiet"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	text := out.String()
	if strings.Contains(text, "bootstrap node listening") || strings.Contains(text, "transports") || !strings.Contains(text, "\nsummary reached=2 total=2 ") {
		t.Fatalf("--quiet printed:\n%s", text)
	}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if name, _, _ := strings.Cut(line, " "); name != "listening" && name != "progress" && name != "reached" && name != "getnewpeer" && name != "error" && name != "summary" {
			t.Fatalf("not an event: %q", line)
		}
	}
}

// The built binary prints a summary as its last line when SIGINT ends a
// node, with why it stopped.
func TestNodeSummaryOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cmd := exec.Command(buildPex(t), "node", "--network", "sum", "--listen", "127.0.0.1:0", "--json")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var last map[string]any
	for sc.Scan() {
		last = nil
		json.Unmarshal(sc.Bytes(), &last)
		if last["event"] == "listening" {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if last["event"] != "summary" || last["stop"] != "signal" || last["signal"] != "interrupt" || last["peers"] != 0.0 || last["elapsed_s"] == nil {
		t.Fatalf("last line %v", last)
	}
}

// Every flag's default is stated in the help: --want's and --listen's in
// words, the others' at least as "(default ...)".
func TestHelpStatesEveryDefault(t *testing.T) {
	for _, c := range prog.Commands {
		var sb strings.Builder
		c.WriteHelp(&sb)
		help := sb.String()
		c.Flags().VisitAll(func(f *flag.Flag) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				return // a switch: off unless given
			}
			i := strings.Index(help, "\n  "+cli.FlagForm(f)+"\n")
			block := help[i+1:]
			if j := strings.Index(block[3:], "\n  --"); j >= 0 {
				block = block[:j+3]
			}
			if !cli.StatesDefault(block) {
				t.Errorf("pex %s -h does not state --%s's default:\n%s", c.Name, f.Name, block)
			}
		})
	}
	var sb strings.Builder
	nodeCmd.WriteHelp(&sb)
	for _, want := range []string{"0, the default: never call it", "default: none, no TCP listener"} {
		if !strings.Contains(strings.Join(strings.Fields(sb.String()), " "), want) {
			t.Errorf("pex node -h lacks %q", want)
		}
	}
}

// pex demo's and pex node's flag errors, in process: the rules of flag
// combinations and the address checks name both flags.
func TestNodeFlagRules(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--want", "3"}, "--want needs --connect, --listen, --ws, --http or --state"},
		{[]string{"--want", "3", "--listen", "127.0.0.1:0", "--bootstrap-timeout", "1s"}, "--bootstrap-timeout needs --connect: it bounds the time to reach a --connect peer"},
		{[]string{"--turn-pass", "p", "--ice-server", "turn:127.0.0.1:3478"}, "--turn-pass needs --turn-user"},
		{[]string{"--turn-user", "u", "--turn-pass", "p"}, "--turn-user needs --ice-server turn:HOST:PORT"},
		{[]string{"--no-webrtc", "--ice-server", "stun:127.0.0.1:3478"}, "--no-webrtc and --ice-server do not go together"},
		{[]string{"--no-direct", "--advertise", "192.0.2.1:7000"}, "--no-direct and --advertise do not go together"},
		{[]string{"--connect", "127.0.0.1:0"}, "--connect: want HOST:PORT such as 127.0.0.1:7000 with a port from 1 to 65535"},
		{[]string{"--ws", "127.0.0.1"}, `--ws: want HOST:PORT such as 127.0.0.1:7000, got "127.0.0.1" (no port)`},
		{[]string{"--state", filepath.Join(os.Args[0], "state")}, "--state: cannot make the directory"},
	} {
		var stderr strings.Builder
		if code := run(context.Background(), append([]string{"node", "--network", "x"}, c.args...), io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
	// The same flags in combinations that make sense start (and stop).
	for _, args := range [][]string{
		{"--want", "2", "--listen", "127.0.0.1:0", "--no-portmap"},
		{"--want", "2", "--state", t.TempDir()},
		{"--no-webrtc", "--listen", "127.0.0.1:0", "--advertise", "127.0.0.1:9"},
		// Redundant but harmless, as scripts that keep every node off the
		// routers and on loopback write them: accepted.
		{"--no-portmap", "--no-webrtc", "--ice-loopback"},
		// A relay that does not use WebRTC itself serves a browser page
		// that does: the ICE servers are the page's.
		{"--no-webrtc", "--http", "127.0.0.1:0", "--ice-server", "stun:127.0.0.1:3478"},
	} {
		if code := run(context.Background(), append([]string{"node", "--network", "x", "--duration", "10ms"}, args...), io.Discard, io.Discard); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

// pex bt crawl checks --out before it crawls: a directory that cannot be
// written is refused at start (exit 2) instead of after --duration.
func TestCrawlOutCheckedAtStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	start := time.Now()
	var stderr strings.Builder
	code := run(context.Background(), []string{"bt", "crawl", "--infohash", testIH, "--peer", closedPort(t), "--duration", "3s", "--out", filepath.Join(file, "x.json")}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "pex bt crawl: --out: cannot write") || time.Since(start) > 2*time.Second {
		t.Fatalf("exit %d after %v: %q", code, time.Since(start), stderr.String())
	}
}
