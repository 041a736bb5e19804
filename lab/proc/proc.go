package proc

import (
	"bytes"
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

// Log is the tail (see LogLimit) of the process's stderr and of the lines
// of its stdout that are no JSON object.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.logTail())
}

// LogSince returns what the log gained since mark (as far as it keeps it)
// and the mark of its end now: LogSince(0) is the whole log.
func (p *Proc) LogSince(mark int64) (string, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tail := p.logTail()
	if n := p.logged - mark; n >= 0 && n < int64(len(tail)) {
		tail = tail[int64(len(tail))-n:]
	}
	return string(tail), p.logged
}

func (p *Proc) logTail() []byte {
	if len(p.log) > p.cfg.logLimit {
		return p.log[len(p.log)-p.cfg.logLimit:]
	}
	return p.log
}

func (p *Proc) appendLog(b []byte) {
	p.log = append(p.log, b...)
	p.logged += int64(len(b))
	if len(p.log) > 2*p.cfg.logLimit {
		p.log = append(p.log[:0], p.log[len(p.log)-p.cfg.logLimit:]...)
	}
}

// Events returns the events kept (see MaxEvents), oldest first.
func (p *Proc) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var evs []Event
	for i := p.first(); i < p.seen; i++ {
		evs = append(evs, p.at(i))
	}
	return evs
}

// first is the index of the oldest event kept.
func (p *Proc) first() int { return max(0, p.seen-p.cfg.maxEvents) }

// at is event i (first() <= i < seen).
func (p *Proc) at(i int) Event { return p.ring[i%p.cfg.maxEvents] }

func matches(ev Event, name string, match func(Event) bool) bool {
	return ev["event"] == name && (match == nil || match(ev))
}

// Count counts the events kept named name that match (nil: all).
func (p *Proc) Count(name string, match func(Event) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for i := p.first(); i < p.seen; i++ {
		if matches(p.at(i), name, match) {
			n++
		}
	}
	return n
}

// Last returns the last event named name, or nil.
func (p *Proc) Last(name string) Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := p.seen - 1; i >= p.first(); i-- {
		if ev := p.at(i); ev["event"] == name {
			return ev
		}
	}
	return nil
}

// Addr is the address of the last "listening" event for transport ("tcp"
// when the event names none), or "".
func (p *Proc) Addr(transport string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addrs[transport]
}

// Wait returns the first event kept named name that matches (nil: any),
// waiting at most limit for it; nil when none came, or the process ended
// without it.
func (p *Proc) Wait(name string, limit time.Duration, match func(Event) bool) Event {
	var found Event
	next := 0
	p.waitLocked(limit, func() bool {
		for i := max(next, p.first()); i < p.seen; i++ {
			if ev := p.at(i); matches(ev, name, match) {
				found = ev
				return true
			}
		}
		next = p.seen // match is a function of the event: no need to look again
		return false
	})
	return found
}

// WaitCount reports whether there have been n events named name among
// those kept, waiting at most limit for them.
func (p *Proc) WaitCount(name string, n int, limit time.Duration) bool {
	return p.waitLocked(limit, func() bool {
		c := 0
		for i := p.first(); i < p.seen && c < n; i++ {
			if p.at(i)["event"] == name {
				c++
			}
		}
		return c >= n
	})
}

// Until waits, at most limit, until cond holds, and reports whether it
// did. It calls cond (which may call p's methods) at once, and again after
// every line the process prints (on stdout or stderr); it gives up early
// when the process ends.
func (p *Proc) Until(limit time.Duration, cond func() bool) bool {
	end := time.Now().Add(limit)
	wake := time.AfterFunc(limit, p.broadcast)
	defer wake.Stop()
	for {
		p.mu.Lock()
		seq, ended := p.seq, p.ended
		p.mu.Unlock()
		if cond() {
			return true
		}
		if ended || !time.Now().Before(end) {
			return false
		}
		p.mu.Lock()
		for p.seq == seq && time.Now().Before(end) {
			p.cond.Wait()
		}
		p.mu.Unlock()
	}
}

// waitLocked is Until with cond called with p.mu held.
func (p *Proc) waitLocked(limit time.Duration, cond func() bool) bool {
	end := time.Now().Add(limit)
	wake := time.AfterFunc(limit, p.broadcast)
	defer wake.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if cond() {
			return true
		}
		if p.ended || !time.Now().Before(end) {
			return false
		}
		p.cond.Wait()
	}
}

func (p *Proc) broadcast() {
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}

// line takes one line of stdout.
func (p *Proc) line(b []byte) {
	if p.cfg.tee != nil {
		p.cfg.tee.Write(append(b[:len(b):len(b)], '\n'))
	}
	var ev Event
	isEvent := bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) && json.Unmarshal(b, &ev) == nil
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	p.cond.Broadcast()
	if !isEvent {
		p.appendLog(append(b[:len(b):len(b)], '\n'))
		return
	}
	if len(p.ring) < p.cfg.maxEvents {
		p.ring = append(p.ring, ev)
	} else {
		p.ring[p.seen%p.cfg.maxEvents] = ev
	}
	p.seen++
	if ev["event"] == "listening" {
		tr, _ := ev["transport"].(string)
		if tr == "" {
			tr = "tcp"
		}
		p.addrs[tr], _ = ev["addr"].(string)
	}
}

// lineWriter is the process's stdout: it cuts it into lines for line.
type lineWriter struct {
	p    *Proc
	buf  []byte
	skip bool // in a line too long to keep
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !w.skip {
				w.buf = append(w.buf, b...)
				if len(w.buf) > maxLine {
					w.buf, w.skip = w.buf[:0], true
				}
			}
			break
		}
		if !w.skip {
			w.buf = append(w.buf, b[:i]...)
			if len(w.buf) <= maxLine {
				w.p.line(w.buf)
			}
		}
		w.buf, w.skip = w.buf[:0], false
		b = b[i+1:]
	}
	return n, nil
}

// flush takes the last line, when the output did not end with a newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 && !w.skip {
		w.p.line(w.buf)
	}
	w.buf = nil
}

// logWriter is the process's stderr.
type logWriter struct{ p *Proc }

func (w logWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	w.p.appendLog(b)
	w.p.seq++
	w.p.cond.Broadcast()
	w.p.mu.Unlock()
	return len(b), nil
}

// WaitFor polls ok, every 200 ms for at most limit, and fails t when it
// does not hold by then, with what and the details detail returns. It is
// for conditions no process event announces (an in-process swarm's
// events, a port that accepts connections); wait for a process's events
// with Proc.Wait.
func WaitFor(t testing.TB, limit time.Duration, what string, ok func() bool, detail ...func() string) {
	t.Helper()
	for end := time.Now().Add(limit); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(end) {
			var more []string
			for _, d := range detail {
				more = append(more, d())
			}
			t.Fatalf("timed out after %v: %s\n%s", limit, what, strings.Join(more, "\n"))
		}
	}
}
