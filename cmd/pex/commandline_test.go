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
	"sync"
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
		{[]string{"--own", "1", "--listen", "127.0.0.1:0"}, "--own needs --want: it counts links within --want"},
		{[]string{"--want", "2", "--own", "3", "--listen", "127.0.0.1:0"}, "--own: 3 is more than --want 2"},
		{[]string{"--want", "2", "--own", "-1", "--listen", "127.0.0.1:0"}, "--own"},
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
		{"--want", "2", "--own", "2", "--listen", "127.0.0.1:0", "--no-portmap"},
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

// textLog collects a process's stderr for tests that wait for a line.
type textLog struct {
	mu   sync.Mutex
	cond *sync.Cond
	sb   strings.Builder
}

func newTextLog() *textLog {
	l := &textLog{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *textLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sb.Write(p)
	l.cond.Broadcast()
	return len(p), nil
}

func (l *textLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}

// waitFor waits, at most 20 s, for s to be written, and reports whether
// it was.
func (l *textLog) waitFor(s string) bool {
	stop := time.AfterFunc(20*time.Second, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer stop.Stop()
	deadline := time.Now().Add(20 * time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	for !strings.Contains(l.sb.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		l.cond.Wait()
	}
	return true
}

// startBinary starts the built pex with args and without PEX_DEBUG in its
// environment; its JSON lines go to the lines returned, its stderr to the
// textLog. stop interrupts it (SIGINT) and returns its exit status.
func startBinary(t *testing.T, bin string, args ...string) (*lines, *textLog, func() int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, cli.DebugEnv+"=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	out, errOut := newLines(), newTextLog()
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	code := 0
	stop := func() int {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt) // the process this test started, by its id
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return out, errOut, stop
}

// --log-level is every command's, checked before any work: a level slog
// does not know exits 2 naming the flag.
func TestBinaryLogLevelRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	for _, args := range [][]string{
		{"node", "--network", "x", "--listen", "127.0.0.1:0"},
		{"demo"},
		{"bt", "swarm", "--infohash", testIH, "--no-listen"},
		{"bt", "crawl", "--infohash", testIH, "--peer", "127.0.0.1:9"},
		{"turn", "--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1"},
	} {
		cmd := exec.Command(bin, append(args, "--log-level", "loud")...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		ee, _ := err.(*exec.ExitError)
		if ee == nil || ee.ExitCode() != 2 || stdout.Len() != 0 ||
			!strings.Contains(stderr.String(), `--log-level: want debug, info, warn or error, got "loud"`) {
			t.Errorf("pex %v --log-level loud: %v\nstdout %q\nstderr %q", args, err, stdout.String(), stderr.String())
		}
	}
}

// pex node --log-level debug logs the protocol to stderr (a link closed
// for its bad magic); without the flag (or PEX_DEBUG) nothing is logged.
func TestBinaryNodeLogLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	for _, level := range []string{"debug", ""} {
		args := []string{"node", "--json", "--network", "x", "--listen", "127.0.0.1:0", "--no-webrtc"}
		if level != "" {
			args = append(args, "--log-level", level)
		}
		out, errOut, stop := startBinary(t, bin, args...)
		addr := out.wait(t, "listening", nil)["addr"].(string)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		io.Copy(io.Discard, c) // until the node closes the link
		c.Close()
		out.wait(t, "error", nil)
		if level == "debug" && !errOut.waitFor(`level=DEBUG msg="pxp: link closed"`) {
			t.Fatalf("--log-level debug logged %q", errOut.String())
		}
		if code := stop(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if level == "" && errOut.String() != "" {
			t.Fatalf("logged without being asked: %q", errOut.String())
		}
	}
}

// pex turn --log-level debug logs pion/turn's handling of each request
// to stderr, through log/slog with its scope; without it, nothing.
func TestBinaryTurnLogLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	for _, level := range []string{"debug", ""} {
		args := []string{"turn", "--json", "--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1"}
		if level != "" {
			args = append(args, "--log-level", level)
		}
		out, errOut, stop := startBinary(t, bin, args...)
		addr := out.wait(t, "listening", nil)["addr"].(string)
		stunBinding(t, addr)
		if level == "debug" && !errOut.waitFor(`level=DEBUG msg="Received BindingRequest from 127.0.0.1:`) {
			t.Fatalf("--log-level debug logged %q", errOut.String())
		}
		if code := stop(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if level == "debug" && !strings.Contains(errOut.String(), "scope=turn") {
			t.Fatalf("no scope in %q", errOut.String())
		}
		if level == "" && errOut.String() != "" {
			t.Fatalf("logged without being asked: %q", errOut.String())
		}
	}
}

// stunBinding sends a STUN binding request (RFC 8489 §5: type 0x0001,
// no attributes, the magic cookie, a transaction id) to the UDP server
// at addr and waits, at most 5 s, for its answer.
func stunBinding(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	c.Write(req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res := make([]byte, 512)
	n, err := c.Read(res)
	if err != nil || n < 20 || res[0] != 0x01 || res[1] != 0x01 || string(res[8:20]) != string(req[8:20]) {
		t.Fatalf("no binding success answer: %d bytes, %v", n, err)
	}
}

// A pex bt swarm socket that cannot be bound fails the start, exit 1,
// naming its flag, before any listening event: every socket (--listen,
// --metrics, --http, the DHT's) is bound before any is announced. pex bt
// crawl's DHT socket alike.
func TestBinaryBTBindFailureNamesFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()
	tcp, udp := busy.Addr().String(), busyUDP.LocalAddr().String()
	swarm := []string{"bt", "swarm", "--infohash", testIH, "--duration", "5s", "--dht-bootstrap", "127.0.0.1:9"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append(swarm, "--listen", tcp, "--metrics", "127.0.0.1:0", "--http", "127.0.0.1:0"), "pex: --listen " + tcp + ": address already in use"},
		{append(swarm, "--listen", "127.0.0.1:0", "--metrics", tcp, "--http", "127.0.0.1:0"), "pex: --metrics " + tcp + ": address already in use"},
		{append(swarm, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--http", tcp), "pex: --http " + tcp + ": address already in use"},
		{append(swarm, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--http", "127.0.0.1:0", "--dht-listen", udp), "pex: --dht-listen " + udp + ": address already in use"},
		{[]string{"bt", "crawl", "--infohash", testIH, "--duration", "5s", "--dht-bootstrap", "127.0.0.1:9", "--dht-listen", udp}, "pex: --dht-listen " + udp + ": address already in use"},
	} {
		cmd := exec.Command(bin, c.args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		ee, _ := err.(*exec.ExitError)
		if ee == nil || ee.ExitCode() != 1 || stderr.String() != c.want+"\n" || strings.Contains(stdout.String(), "listening") {
			t.Errorf("pex %v: %v\nstdout %q\nstderr %q, want %q", c.args, err, stdout.String(), stderr.String(), c.want)
		}
	}
}
