package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"node"}, {"node", "--network", "x", "extra"}, {"demo", "--nodes", "1"}} {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "pex "+version) {
		t.Fatalf("version: %d %q", code, out.String())
	}
	for _, args := range [][]string{{"--version"}, {"node", "-h"}, {"help", "node"}, {"bt", "swarm", "-h"}, {"demo", "--help"}} {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 0 {
			t.Errorf("%v exited %d, want 0", args, code)
		}
	}
	// The lab's commands are pexlab's: pex names it.
	if code := run(context.Background(), []string{"bench", "getnewpeer"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "pexlab") {
		t.Fatalf("pex bench: exit %d, %q", code, errOut.String())
	}
}

// Bad values are refused at start, naming their flag, with exit 2; a
// torrent file that cannot be read is a runtime error (exit 1).
func TestBadFlagsRefusedAtStart(t *testing.T) {
	ih := "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"node", "--network", "x", "--want", "-1"}, "--want"},
		{[]string{"node", "--network", "x", "--max-peers", "-1"}, "--max-peers"},
		{[]string{"node", "--network", "x", "--advertise", "garbage"}, "--advertise"},
		{[]string{"node", "--network", "x", "--ice-server", "notaurl"}, "--ice-server"},
		{[]string{"node", "--network", "x", "stray"}, "stray"},
		{[]string{"demo", "--timeout", "-1s"}, "--timeout"},
		{[]string{"demo", "stray", "--nodes", "3"}, "stray"},
		{[]string{"bt", "swarm", "--infohash", ih, "--tracker", "ftp://x"}, "--tracker"},
		{[]string{"bt", "swarm", "--infohash", ih, "--peer", "garbage"}, "--peer"},
		{[]string{"bt", "swarm", "--infohash", ih, "--duration", "-1s"}, "--duration"},
		{[]string{"bt", "swarm", "--infohash", ih, "--max-peers", "-1"}, "--max-peers"},
		{[]string{"bt", "swarm", "--infohash", ih, "stray", "--duration", "1s"}, "stray"},
	} {
		var errOut strings.Builder
		if code := run(context.Background(), c.args, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), c.flag) {
			t.Errorf("%v: exit %d, %q; want 2 naming %s", c.args, code, errOut.String(), c.flag)
		}
	}
	if code := run(context.Background(), []string{"bt", "swarm", "--torrent", filepath.Join(t.TempDir(), "missing.torrent")}, io.Discard, io.Discard); code != 1 {
		t.Errorf("a missing torrent file: exit %d, want 1", code)
	}
}

// Every command's -h, and pex help COMMAND, print its description,
// synopsis, examples and every flag on stdout and exit 0; pex --help names
// every flag of every command.
func TestHelpDescribesEveryFlag(t *testing.T) {
	var top strings.Builder
	if code := run(context.Background(), []string{"--help"}, &top, io.Discard); code != 0 {
		t.Fatalf("pex --help exited %d", code)
	}
	for _, c := range prog.Commands {
		var h, h2 strings.Builder
		args := append(strings.Fields(c.Name), "-h")
		if code := run(context.Background(), args, &h, io.Discard); code != 0 {
			t.Fatalf("%v exited %d", args, code)
		}
		if code := run(context.Background(), append([]string{"help"}, strings.Fields(c.Name)...), &h2, io.Discard); code != 0 || h2.String() != h.String() {
			t.Fatalf("pex help %s (exit %d) differs from pex %s -h", c.Name, code, c.Name)
		}
		text := h.String()
		for _, want := range []string{"usage:\n  pex " + c.Name, c.Summary, "examples:\n  pex " + c.Name} {
			if !strings.Contains(text, want) {
				t.Errorf("pex %s -h lacks %q:\n%s", c.Name, want, text)
			}
		}
		if !strings.Contains(text, strings.Fields(c.About)[0]) || !strings.Contains(top.String(), c.Summary) {
			t.Errorf("pex %s: description or summary missing", c.Name)
		}
		c.Flags().VisitAll(func(f *flag.Flag) {
			if !strings.Contains(text, "\n  "+cli.FlagForm(f)+"\n") {
				t.Errorf("pex %s -h does not describe --%s", c.Name, f.Name)
			}
			if !strings.Contains(top.String(), "--"+f.Name) {
				t.Errorf("pex --help does not list %s's --%s", c.Name, f.Name)
			}
		})
	}
	// A bad flag: the parser's complaint and a pointer to -h, on stderr.
	var errOut strings.Builder
	if code := run(context.Background(), []string{"node", "--nonsense"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "pex node -h") {
		t.Fatalf("bad flag: exit %d, %q", code, errOut.String())
	}
	if code := run(context.Background(), []string{"help", "nonsense"}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("pex help nonsense exited %d, want 2", code)
	}
}

// docs/pex.md holds, after each marker line "<!-- pex help NAME -->",
// exactly what the command's help prints (the prose around the blocks is
// written by hand). PEX_UPDATE_DOCS=1 go test -run TestDocsMatchHelp
// ./cmd/pex ./cmd/pexlab rewrites the blocks from the commands.
func TestDocsMatchHelp(t *testing.T) {
	if err := prog.SyncDocs("../../docs/pex.md", os.Getenv("PEX_UPDATE_DOCS") == "1"); err != nil {
		t.Errorf("%v\n(PEX_UPDATE_DOCS=1 go test -run TestDocsMatchHelp ./cmd/pex rewrites the help blocks)", err)
	}
}

// Every event either command prints is documented, in backquotes, in its
// reference: pex's in docs/pex.md, pexlab's in docs/pexlab.md. An event
// is a literal name given to Event, Limited or, in the simulators, say.
func TestDocsListEveryEvent(t *testing.T) {
	re := regexp.MustCompile(`\.(?:Event\(|Limited\([^,]+, |say\()"([a-z-]+)"`)
	for _, c := range []struct {
		doc   string
		globs []string
	}{
		{"../../docs/pex.md", []string{"*.go", "../internal/cli/*.go"}},
		{"../../docs/pexlab.md", []string{"../pexlab/*.go", "../pexlab/internal/sim/*.go", "../internal/cli/serve.go"}},
	} {
		doc, err := os.ReadFile(c.doc)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, g := range c.globs {
			files, _ := filepath.Glob(g)
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range re.FindAllStringSubmatch(string(src), -1) {
					seen[m[1]] = f
				}
			}
		}
		if len(seen) < 10 {
			t.Fatalf("%v: found only %d event names: %v", c.globs, len(seen), seen)
		}
		for name, f := range seen {
			if !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("%s does not document the event %q (printed in %s)", c.doc, name, f)
			}
		}
	}
}

// The built binary: what a shell sees, exit codes and streams included.
func TestBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	dir := t.TempDir()
	private := filepath.Join(dir, "private.torrent")
	info := "d6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaa7:privatei1ee"
	if err := os.WriteFile(private, []byte("d4:info"+info+"e"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage, notDir, corrupt := filepath.Join(dir, "garbage.torrent"), filepath.Join(dir, "file"), filepath.Join(dir, "state")
	os.WriteFile(garbage, []byte("garbage"), 0o644)
	os.WriteFile(notDir, nil, 0o644)
	os.Mkdir(corrupt, 0o700)
	os.WriteFile(filepath.Join(corrupt, "pxp-peers.json"), []byte("garbage"), 0o600)
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"--version"}, 0, "pex " + version, ""},
		{[]string{"version"}, 0, "pex " + version, ""},
		{[]string{"--help"}, 0, "pex bt swarm (--infohash HEX", ""},
		{[]string{"node", "-h"}, 0, "examples:\n  pex node", ""},
		{[]string{"help", "bt", "swarm"}, 0, "--no-trackers", ""},
		{nil, 2, "", "usage:"},
		{[]string{"node", "--network", "x", "--want", "-1"}, 2, "", "--want: must not be negative"},
		{[]string{"node", "--bogus"}, 2, "", `Run "pex node -h"`},
		{[]string{"bt", "swarm", "--torrent", filepath.Join(dir, "missing.torrent")}, 1, "", "no such file"},
		{[]string{"node", "--network", "x", "--connect", closedPort(t), "--bootstrap-timeout", "1s"}, 1, "dial-failed", "no --connect peer reached"},
		{[]string{"bt", "swarm", "--infohash", testIH, "--no-listen", "--peer", closedPort(t), "--duration", "1s"}, 1, "dial-failed", "no peer connected"},
		{[]string{"bt", "swarm", "--torrent", private, "--no-listen", "--duration", "100ms"}, 0, "private=true pex=false", ""},
		{[]string{"bt", "swarm", "--torrent", private, "--no-listen", "--duration", "100ms"}, 0, "PEX off", ""},
		{[]string{"help", "bt", "swarm"}, 0, "--no-listen", ""},
		{[]string{"bt", "swarm", "--infohash", testIH, "--no-listen", "--listen", "127.0.0.1:0"}, 2, "", "--no-listen"},
		{[]string{"bt", "swarm", "--infohash", testIH, "--log-level", "loud"}, 2, "", "--log-level"},
		{[]string{"bt", "crawl", "--infohash", testIH, "--peer", closedPort(t), "--duration", "1s"}, 1, "visited peer=", "no peer reached"},
		// Issue 27: address flags checked at start, naming the flag, with an example.
		{[]string{"node", "--network", "x", "--http", "127.0.0.1"}, 2, "", `pex node: --http: want HOST:PORT such as 127.0.0.1:7000, got "127.0.0.1" (no port)`},
		{[]string{"node", "--network", "x", "--listen", "127.0.0.1:99999"}, 2, "", "--listen: want HOST:PORT such as 127.0.0.1:7000 with a port from 0 to 65535"},
		{[]string{"node", "--network", "x", "--ws", "localhost"}, 2, "", "--ws: want HOST:PORT"},
		{[]string{"node", "--network", "x", "--metrics", "127.0.0.1:99999"}, 2, "", "--metrics: want HOST:PORT"},
		// Flag errors in the help's words, a misspelt flag's nearest one.
		{[]string{"node", "--network", "x", "--duration", "1"}, 2, "", `pex node: --duration: want a duration such as 30s or 2m, got "1"`},
		{[]string{"node", "--netwrok", "x"}, 2, "", "pex node: unknown flag --netwrok; did you mean --network?"},
		// Combinations that would do nothing or contradict each other.
		{[]string{"node", "--network", "x", "--want", "3"}, 2, "", "--want needs --connect, --listen, --ws, --http or --state"},
		{[]string{"node", "--network", "x", "--turn-user", "a", "--ice-server", "turn:127.0.0.1:3478"}, 2, "", "--turn-user needs --turn-pass, --turn-pass-file or PEX_TURN_PASS"},
		{[]string{"node", "--network", "x", "--listen", "127.0.0.1:0", "--no-webrtc", "--ice-server", "stun:127.0.0.1:3478"}, 2, "", "--no-webrtc and --ice-server do not go together"},
		// version's flags and arguments.
		{[]string{"version", "--json"}, 0, `{"version":"` + version + `"`, ""},
		{[]string{"version", "extra"}, 2, "", `unexpected argument "extra"`},
		// A group's help lists its commands.
		{[]string{"help", "bt"}, 0, "pex bt: the commands are swarm and crawl", ""},
		{[]string{"bt", "-h"}, 0, "pex bt: the commands are swarm and crawl", ""},
		// Outputs checked before the work; a garbage torrent a runtime error naming it.
		{[]string{"bt", "crawl", "--infohash", testIH, "--peer", closedPort(t), "--duration", "3s", "--out", filepath.Join(notDir, "x.json")}, 2, "", "pex bt crawl: --out: cannot write"},
		{[]string{"bt", "swarm", "--torrent", garbage}, 1, "", "pex: parse torrent " + garbage + ": "},
		// A corrupt --state is moved aside; a node ends with a summary.
		{[]string{"node", "--network", "x", "--state", corrupt, "--duration", "100ms"}, 0, "state-corrupt path=" + filepath.Join(corrupt, "pxp-peers.json"), ""},
		{[]string{"node", "--network", "x", "--duration", "100ms"}, 0, "summary node=", ""},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, c.args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if code != c.code || !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("pex %v: exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", c.args, code, c.code, c.stdout, stdout.String(), c.stderr, stderr.String())
		}
	}
}

// buildPex builds the command into a temporary directory, or returns
// $PEX_BIN when it names another build (to see a test fail on it).
func buildPex(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("PEX_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "pex")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}
