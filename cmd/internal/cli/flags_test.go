package cli

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("network", "", "the network `ID` (required)")
	fs.String("listen", "", "accept on `HOST:PORT`")
	fs.Duration("duration", 0, "stop after `D` (0: never)")
	fs.Int("want", 0, "`N` peers")
	fs.Uint64("seed", 1, "`S`")
	fs.Float64("kill", 0, "`FRACTION`")
	fs.Bool("json", false, "JSON")
	fs.Bool("no-webrtc", false, "no WebRTC")
	var l ListFlag
	fs.Var(&l, "connect", "dial `HOST:PORT` (repeatable)")
	return fs
}

// The flag package's errors, rewritten in the help's words: the flag with
// two dashes, what it wants with an example, the nearest flag to a
// misspelt one.
func TestFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "1"}, `--duration: want a duration such as 30s or 2m, got "1"`},
		{[]string{"-duration=x"}, `--duration: want a duration such as 30s or 2m, got "x"`},
		{[]string{"--want", "many"}, `--want: want a whole number such as 8, got "many"`},
		{[]string{"--want", "99999999999999999999"}, `--want: want a whole number such as 8, got "99999999999999999999" (out of range)`},
		{[]string{"--seed", "-1"}, `--seed: want a whole number, 0 or more, such as 8, got "-1"`},
		{[]string{"--kill", "half"}, `--kill: want a number such as 0.5, got "half"`},
		{[]string{"--json=maybe"}, `--json: a switch: give --json alone, or --json=true or --json=false; got "maybe"`},
		{[]string{"--duration"}, `--duration needs a value: want a duration such as 30s or 2m`},
		{[]string{"--listen"}, `--listen needs a value: want HOST:PORT`},
		{[]string{"--netwrok", "x"}, `unknown flag --netwrok; did you mean --network?`},
		{[]string{"-netwrok", "x"}, `unknown flag --netwrok; did you mean --network?`},
		{[]string{"--no_webrtc"}, `unknown flag --no_webrtc; did you mean --no-webrtc?`},
		{[]string{"--dur", "1s"}, `unknown flag --dur; did you mean --duration?`},
		{[]string{"--conect", "a:1"}, `unknown flag --conect; did you mean --connect?`},
		{[]string{"--zzzzzz"}, `unknown flag --zzzzzz`},
		{[]string{"---x"}, `bad flag syntax "---x": a flag is --NAME, --NAME VALUE or --NAME=VALUE`},
	} {
		fs := testFlags()
		fs.SetOutput(io.Discard)
		err := fs.Parse(c.args)
		if err == nil {
			t.Fatalf("%v parsed", c.args)
		}
		if got := FlagError(fs, err); got != c.want {
			t.Errorf("%v:\n got %s\nwant %s", c.args, got, c.want)
		}
	}
}

// ParseFlags prints the rewritten error after the command's name, and
// the pointer to -h, and returns ErrUsage.
func TestParseFlagsError(t *testing.T) {
	p := NewProgram("pex", "", "", &Command{Name: "node", Flags: testFlags})
	var stderr strings.Builder
	err := p.Commands[0].ParseFlags(testFlags(), []string{"--duration", "1"}, io.Discard, &stderr)
	want := "pex node: --duration: want a duration such as 30s or 2m, got \"1\"\nRun \"pex node -h\" for its flags and examples.\n"
	if !errors.Is(err, ErrUsage) || stderr.String() != want {
		t.Fatalf("%v\n%q\nwant %q", err, stderr.String(), want)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"network", "network", 0}, {"netwrok", "network", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1}} {
		if d := EditDistance(c.a, c.b); d != c.d {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, d, c.d)
		}
	}
}

// Every address flag is checked the same way: HOST:PORT with a port from
// 0 (listen) or 1 (dial) to 65535, the error naming the flag with an
// example.
func TestAddressChecks(t *testing.T) {
	for _, c := range []struct {
		v    string
		dial bool
		want string // "" when good
	}{
		{"127.0.0.1:7000", false, ""},
		{":0", false, ""},
		{"localhost:8080", true, ""},
		{"[::1]:80", true, ""},
		{"127.0.0.1", false, `--x: want HOST:PORT such as 127.0.0.1:7000, got "127.0.0.1" (no port)`},
		{"127.0.0.1:", false, `--x: want HOST:PORT such as 127.0.0.1:7000, got "127.0.0.1:" (no port)`},
		{"127.0.0.1:99999", false, `--x: want HOST:PORT such as 127.0.0.1:7000 with a port from 0 to 65535, got "127.0.0.1:99999"`},
		{"127.0.0.1:http", false, `--x: want HOST:PORT such as 127.0.0.1:7000 with a port from 0 to 65535, got "127.0.0.1:http"`},
		{"127.0.0.1:0", true, `--x: want HOST:PORT such as 127.0.0.1:7000 with a port from 1 to 65535, got "127.0.0.1:0"`},
		{"::1:80", false, `--x: want HOST:PORT such as 127.0.0.1:7000, got "::1:80" (an IPv6 address goes in brackets: [::1]:7000)`},
	} {
		var ck Checks
		if c.dial {
			ck.DialAddr("x", c.v)
		} else {
			ck.HostPort("x", c.v)
		}
		if got := strings.Join(ck.errs, "; "); got != c.want {
			t.Errorf("%q (dial %v):\n got %s\nwant %s", c.v, c.dial, got, c.want)
		}
	}
}

// Outputs are checked at start: a directory that cannot be written is
// refused before any work, naming the flag; a directory flag's directory
// is made.
func TestOutputChecks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "x.json"), ""},
		{file, ""}, // there already: overwritten at the end
		{filepath.Join(file, "x.json"), "--out: cannot write " + filepath.Join(file, "x.json") + ": " + file + " is not a directory"},
		{filepath.Join(dir, "missing", "x.json"), "--out: cannot write " + filepath.Join(dir, "missing", "x.json") + ": " + filepath.Join(dir, "missing") + " is not a directory"},
		{dir, "--out: " + dir + " is a directory; want a file name"},
	} {
		var ck Checks
		ck.OutputFile("out", c.path)
		if got := strings.Join(ck.errs, "; "); c.want == "" && got != "" || !strings.HasPrefix(got, c.want) {
			t.Errorf("OutputFile(%s): %q, want %q", c.path, got, c.want)
		}
	}
	var ck Checks
	made := filepath.Join(dir, "a", "b")
	ck.OutputDir("out", made, 0o700)
	if st, err := os.Stat(made); !ck.OK() || err != nil || !st.IsDir() {
		t.Fatalf("OutputDir did not make %s: %v %v", made, ck.errs, err)
	}
	ck.OutputDir("out", filepath.Join(file, "sub"), 0o755)
	if ck.OK() || !strings.HasPrefix(ck.errs[0], "--out: cannot make the directory") {
		t.Fatalf("OutputDir under a file: %v", ck.errs)
	}
	if entries, _ := os.ReadDir(made); len(entries) != 0 {
		t.Fatalf("the probe was left behind: %v", entries)
	}
}

// A table of rules refuses a flag without one it needs, and two that
// contradict each other, naming both and saying why.
func TestRules(t *testing.T) {
	rules := []Rule{
		{If: "want", Needs: []string{"connect", "listen"}, Why: "no peers to ask"},
		{If: "turn-user", Needs: []string{"turn-pass", "PEX_TURN_PASS"}, Why: "a user needs a password"},
		{If: "no-webrtc", Excludes: []string{"ice-server"}, Why: "WebRTC is off"},
	}
	fs := testFlags()
	fs.String("turn-user", "", "")
	fs.String("turn-pass", "", "")
	fs.String("ice-server", "", "")
	fs.Parse([]string{"--want", "3", "--turn-user", "a", "--no-webrtc", "--ice-server", "stun:x:1", "--duration", "0s"})
	given := Given(fs)
	if given["duration"] || !given["want"] {
		t.Fatalf("Given %v: a flag given its default is not given", given)
	}
	var ck Checks
	ck.Rules(given, rules)
	want := "--want needs --connect or --listen: no peers to ask; " +
		"--turn-user needs --turn-pass or PEX_TURN_PASS: a user needs a password; " +
		"--no-webrtc and --ice-server do not go together: WebRTC is off"
	if got := strings.Join(ck.errs, "; "); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	given["listen"], given["PEX_TURN_PASS"], given["ice-server"] = true, true, false
	ck = Checks{}
	ck.Rules(given, rules)
	if !ck.OK() {
		t.Fatalf("refused: %v", ck.errs)
	}
}

// The help states every flag's default: a non-zero one as "(default X)",
// a zero one in the usage's own words, or else "(default: none)".
func TestHelpStatesDefaults(t *testing.T) {
	c := &Command{Name: "x", Summary: "s", Flags: testFlags}
	NewProgram("p", "", "", c)
	var sb strings.Builder
	c.WriteHelp(&sb)
	help := sb.String()
	for _, want := range []string{
		"the network ID (required)\n",                 // says it
		"stop after D (0: never)\n",                   // says it
		"N peers (default 0)\n",                       // said for it
		"accept on HOST:PORT (default: none)\n",       // said for it
		"dial HOST:PORT (repeatable) (default: none)", // said for it
		"S (default 1)\n",
		"  --json\n      JSON\n", // a switch: off unless given
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}

// pex help bt and pex bt -h list the group's commands.
func TestGroupHelp(t *testing.T) {
	flags := func() *flag.FlagSet { return flag.NewFlagSet("", flag.ContinueOnError) }
	p := NewProgram("pex", "", "", &Command{Name: "node", Summary: "a node", Flags: flags},
		&Command{Name: "bt swarm", Summary: "a swarm", Flags: flags}, &Command{Name: "bt crawl", Summary: "a crawl", Flags: flags})
	var sb strings.Builder
	if !p.WriteCommandHelp(&sb, "bt") {
		t.Fatal("no help for bt")
	}
	for _, want := range []string{"pex bt: the commands are swarm and crawl", "  pex bt swarm\n", "  pex bt crawl\n", "bt crawl            a crawl"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("help bt lacks %q:\n%s", want, sb.String())
		}
	}
	if p.Find("bt") != nil || p.Find("bt crawl") == nil || p.WriteCommandHelp(io.Discard, "b") || p.GroupNames("bt") != "swarm and crawl" {
		t.Fatal("Find or Group")
	}
}

// A quiet printer prints events and drops the prose.
func TestQuietPrinter(t *testing.T) {
	var out strings.Builder
	pr := NewPrinter(&out, false).Quiet(true).SetClock(fixed)
	pr.Text("a table")
	pr.Event("summary", "n", 1)
	if out.String() != "summary n=1 time=2026-12-07T00:53:42.123Z\n" {
		t.Fatalf("%q", out.String())
	}
}

// A socket that cannot be bound is reported with its flag and address.
func TestBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = Listen("http", addr)
	if err == nil || err.Error() != "--http "+addr+": address already in use" || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("%v", err)
	}
	if _, err := ServeOn(addr, "metrics", NewPrinter(io.Discard, false), nil); err == nil || !strings.HasPrefix(err.Error(), "--metrics "+addr+": ") {
		t.Fatalf("ServeOn: %v", err)
	}
}

// An interrupted run exits as shells expect: 128 and the signal.
func TestInterruptedStatus(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(&SignalError{Signal: syscall.SIGTERM})
	if s := InterruptedStatus(ctx); s != 143 {
		t.Fatalf("SIGTERM: %d", s)
	}
	ctx, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if s := InterruptedStatus(ctx); s != 130 {
		t.Fatalf("canceled: %d", s)
	}
	// SignalContext ends with the signal as its cause.
	sctx, stop := SignalContext(context.Background())
	defer stop()
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	select {
	case <-sctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not end the context")
	}
	if s := InterruptedStatus(sctx); s != 130 {
		t.Fatalf("SIGINT: %d (%v)", s, context.Cause(sctx))
	}
}
