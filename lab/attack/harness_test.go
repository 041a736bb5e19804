package attack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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

// proc is a pex process under attack.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []map[string]any
	addrs  map[string]string // transport -> listening address
	ready  chan struct{}
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
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, addrs: map[string]string{}, ready: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			p.mu.Lock()
			if len(p.events) < 200_000 {
				p.events = append(p.events, ev)
			}
			if ev["event"] == "listening" {
				tr, _ := ev["transport"].(string)
				if tr == "" {
					tr = "tcp"
				}
				p.addrs[tr], _ = ev["addr"].(string)
				if len(p.addrs) == want+1 {
					close(p.ready)
				}
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		<-done
	})
	select {
	case <-p.ready:
	case <-time.After(15 * time.Second):
		t.Fatal("pex did not start listening")
	}
	return p
}

func (p *proc) addr(transport string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addrs[transport]
}

// count counts the events named name that match.
func (p *proc) count(name string, match func(map[string]any) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ev := range p.events {
		if ev["event"] == name && (match == nil || match(ev)) {
			n++
		}
	}
	return n
}

// waitCount waits up to 10 s for an event named name that matches.
func (p *proc) waitCount(name string, match func(map[string]any) bool) bool {
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if p.count(name, match) > 0 {
			return true
		}
	}
	return false
}

// usage is what the process holds.
type usage struct {
	rssKiB     int
	goroutines int
	fds        int
}

func (u usage) String() string {
	return fmt.Sprintf("RSS %.1f MiB, %d goroutines, %d fds", float64(u.rssKiB)/1024, u.goroutines, u.fds)
}

func (p *proc) usage() usage {
	p.t.Helper()
	var u usage
	pid := p.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				u.rssKiB, _ = strconv.Atoi(strings.Fields(v)[0])
			}
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		u.fds = len(ents)
	}
	if p.addr("metrics") == "" {
		return u
	}
	resp, err := http.Get("http://" + p.addr("metrics") + "/debug/pprof/goroutine?debug=1")
	if err == nil {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total "); ok {
			u.goroutines, _ = strconv.Atoi(v)
		}
	}
	return u
}

// settle waits until the process's goroutines and fds are back within
// slack of base, and fails the test if they are not within limit.
func (p *proc) settle(base usage, limit time.Duration) usage {
	p.t.Helper()
	var u usage
	for end := time.Now().Add(limit); ; time.Sleep(200 * time.Millisecond) {
		u = p.usage()
		if u.goroutines <= base.goroutines+5 && u.fds <= base.fds+5 {
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
