package attack

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.uber.org/goleak"

	labproc "github.com/seed0021ed4d/pex/lab/proc"
)

// pexBin is the pex command built for the suite.
var pexBin string

func TestMain(m *testing.M) {
	if bin := os.Getenv("PEX_ATTACK_BIN"); bin != "" {
		// Another build of pex, for "before" numbers: it may lack
		// --metrics, and then goroutines are not counted.
		os.Setenv("PEX_BIN", bin)
	}
	var err error
	if pexBin, err = labproc.BuildPex(); err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "attack: leaked goroutines:", err)
			code = 1
		}
	}
	labproc.Cleanup()
	os.Exit(code)
}

// full reports whether the suite runs at the sizes of SECURITY.md.
func full() bool { return os.Getenv("PEX_ATTACK_FULL") != "" }

// size picks the CI size or the full one.
func size(ci, fullSize int) int {
	if full() {
		return fullSize
	}
	return ci
}

// proc is a pex process under attack (cmd is the command it runs).
type proc struct {
	*labproc.Proc
	t   *testing.T
	cmd *exec.Cmd
}

// startPex runs pex with args plus --json and --metrics, and waits until it
// listens (on every transport it was asked to) and serves profiles.
func startPex(t *testing.T, want int, args ...string) *proc {
	t.Helper()
	args = append(args, "--json")
	if os.Getenv("PEX_ATTACK_BIN") == "" {
		args = append(args, "--metrics", "127.0.0.1:0")
	} else {
		want-- // no metrics listener
	}
	cmd := exec.Command(pexBin, args...)
	p := &proc{Proc: labproc.StartT(t, cmd, labproc.MaxEvents(200_000), labproc.Grace(15*time.Second)), t: t, cmd: cmd}
	if !p.WaitCount("listening", want+1, 15*time.Second) {
		t.Fatal("pex did not start listening")
	}
	return p
}

func (p *proc) addr(transport string) string { return p.Addr(transport) }

// count counts the events named name that match.
func (p *proc) count(name string, match func(map[string]any) bool) int { return p.Count(name, match) }

// waitCount waits up to 10 s for an event named name that matches.
func (p *proc) waitCount(name string, match func(map[string]any) bool) bool {
	return p.Wait(name, 10*time.Second, match) != nil
}

// usage is what the process holds: its memory (anonymous and RSS), its
// goroutines and its descriptors.
type usage = labproc.Usage

func (p *proc) usage() usage { return p.Usage() }

// settle waits until the process's goroutines and fds are back within
// slack of base, and fails the test if they are not within limit.
func (p *proc) settle(base usage, limit time.Duration) usage {
	p.t.Helper()
	var u usage
	for end := time.Now().Add(limit); ; time.Sleep(200 * time.Millisecond) {
		u = p.usage()
		if u.Goroutines <= base.Goroutines+5 && u.FDs <= base.FDs+5 {
			return u
		}
		if time.Now().After(end) {
			p.t.Fatalf("not back to baseline after %v: %v, baseline %v", limit, u, base)
		}
	}
}

// dialFrom connects to addr from the loopback address ip (any of
// 127.0.0.0/8 works without configuration), so that attackers and honest
// peers can sit in prefixes of their own.
func dialFrom(ip, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return d.DialContext(context.Background(), "tcp", addr)
}

// closeAll closes connections.
func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}
