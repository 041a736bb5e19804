package proc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Event is one JSON object a process printed on a line of its stdout; its
// name is Event["event"].
type Event = map[string]any

// Defaults of the options.
const (
	DefaultMaxEvents = 100_000
	DefaultLogLimit  = 1 << 20
	DefaultGrace     = 5 * time.Second
	maxLine          = 1 << 20 // longer stdout lines are dropped
	maxReported      = 500     // Report cuts events longer than this
)

type config struct {
	name      string
	stdin     bool
	tee       io.WriteCloser
	maxEvents int
	logLimit  int
	grace     time.Duration
}

// An Option configures Start.
type Option func(*config)

// Name names the process in failure reports (default: its program's base
// name and pid).
func Name(name string) Option { return func(c *config) { c.name = name } }

// Stdin gives the process a stdin pipe, written by Send and closed by Stop
// (the JS reference's driver and BiglyBT's console read commands there).
// Without it the process reads from the null device.
func Stdin() Option { return func(c *config) { c.stdin = true } }

// Tee writes every line of the process's stdout to w as well, and closes w
// when the output ends (or when Start fails).
func Tee(w io.WriteCloser) Option { return func(c *config) { c.tee = w } }

// MaxEvents keeps at most the last n events (DefaultMaxEvents).
func MaxEvents(n int) Option { return func(c *config) { c.maxEvents = n } }

// LogLimit keeps at most the last n bytes of the log (DefaultLogLimit).
func LogLimit(n int) Option { return func(c *config) { c.logLimit = n } }

// Grace is how long Stop lets the process end after SIGINT before it kills
// it (DefaultGrace). Grace(0) kills it at once, without SIGINT.
func Grace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// Proc is a started process: the JSON events it prints on stdout (one
// object a line), its log (its stderr and the lines of its stdout that are
// no JSON object), a way to wait for an event, and Stop.
type Proc struct {
	cfg   config
	cmd   *exec.Cmd
	name  string
	stdin io.WriteCloser
	done  chan struct{} // closed when the process has exited and its output is read
	err   error         // cmd.Wait's, once done is closed

	mu     sync.Mutex
	cond   *sync.Cond
	ring   []Event // the last cfg.maxEvents events; event i at ring[i%len] once full
	seen   int     // events ever
	seq    int     // bumped on every line of output and at exit: waiters re-check
	addrs  map[string]string
	log    []byte
	logged int64 // bytes ever written to the log
	ended  bool  // stdout read to its end

	stopOnce sync.Once
}

// Start starts cmd, which the caller has built (for instance with
// exec.Command, or natlab.Host.Command to run it in a lab host), and
// collects what it prints. Start owns cmd's stdout (it must be unset), and
// its stdin when Stdin is given; when the caller set cmd.Stderr it goes
// there (not to the log). The process runs until it ends or Stop ends it.
func Start(cmd *exec.Cmd, opts ...Option) (*Proc, error) {
	cfg := config{maxEvents: DefaultMaxEvents, logLimit: DefaultLogLimit, grace: DefaultGrace}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.maxEvents = max(cfg.maxEvents, 1)
	cfg.logLimit = max(cfg.logLimit, 1)
	fail := func(err error) (*Proc, error) {
		if cfg.tee != nil {
			cfg.tee.Close()
		}
		return nil, err
	}
	if cmd.Stdout != nil {
		return fail(errors.New("proc: cmd.Stdout is set; Start reads the process's stdout"))
	}
	p := &Proc{cfg: cfg, cmd: cmd, done: make(chan struct{}), addrs: map[string]string{}}
	p.cond = sync.NewCond(&p.mu)
	out := &lineWriter{p: p}
	cmd.Stdout = out
	if cmd.Stderr == nil {
		cmd.Stderr = logWriter{p}
	}
	if cfg.stdin {
		var err error
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			return fail(err)
		}
	}
	if cmd.WaitDelay == 0 {
		// A child that keeps the output open does not hold Stop for ever.
		cmd.WaitDelay = 5 * time.Second
	}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	p.name = cfg.name
	if p.name == "" {
		p.name = fmt.Sprintf("%s[%d]", filepath.Base(cmd.Path), cmd.Process.Pid)
	}
	go func() {
		err := cmd.Wait() // returns once the output is copied to out
		out.flush()
		if cfg.tee != nil {
			cfg.tee.Close()
		}
		p.mu.Lock()
		p.err, p.ended = err, true
		p.seq++
		p.cond.Broadcast()
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// StartT is Start for a test: it fails t when cmd does not start, stops
// the process when the test ends, and then, if the test failed, logs the
// process's log and its last events.
func StartT(t testing.TB, cmd *exec.Cmd, opts ...Option) *Proc {
	t.Helper()
	p, err := Start(cmd, opts...)
	if err != nil {
		t.Fatalf("start %s: %v", strings.Join(cmd.Args, " "), err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Log(p.Report(20))
		}
	})
	return p
}

// Report describes the process for a failed test: how it ended, its log,
// and its last n events.
func (p *Proc) Report(n int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s (%s)", p.name, strings.Join(p.cmd.Args, " "))
	select {
	case <-p.done:
		fmt.Fprintf(&sb, ", ended: %v", p.cmd.ProcessState)
	default:
		sb.WriteString(", running")
	}
	if log := p.Log(); log != "" {
		fmt.Fprintf(&sb, "\n--- log:\n%s", strings.TrimRight(log, "\n"))
	}
	evs := p.Events()
	p.mu.Lock()
	seen := p.seen
	p.mu.Unlock()
	if len(evs) > n {
		evs = evs[len(evs)-n:]
	}
	fmt.Fprintf(&sb, "\n--- last %d of %d events:", len(evs), seen)
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		if len(b) > maxReported {
			b = append(b[:maxReported:maxReported], "..."...)
		}
		fmt.Fprintf(&sb, "\n%s", b)
	}
	return sb.String()
}

// Name is the process's name in reports.
func (p *Proc) Name() string { return p.name }

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited and its output is read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended (cmd.Wait's error), once Done is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Send writes line and a newline to the process's stdin (see Stdin).
func (p *Proc) Send(line string) error {
	if p.stdin == nil {
		return errors.New("proc: started without Stdin")
	}
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// Stop ends the process: it closes its stdin, sends it SIGINT (by its id),
// kills it if it has not ended after the grace period, and waits until
// its output is read. It may be called more than once, and concurrently.
func (p *Proc) Stop() {
	p.stopOnce.Do(func() {
		if p.stdin != nil {
			p.stdin.Close()
		}
		select {
		case <-p.done:
			return
		default:
		}
		if p.cfg.grace > 0 {
			p.cmd.Process.Signal(os.Interrupt)
			t := time.NewTimer(p.cfg.grace)
			defer t.Stop()
			select {
			case <-p.done:
				return
			case <-t.C:
			}
		}
		p.cmd.Process.Kill()
		<-p.done
	})
	<-p.done
}
