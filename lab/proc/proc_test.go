package proc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The test binary is its own helper process: with PROC_TEST_HELPER set it
// runs that helper instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PROC_TEST_HELPER"); mode != "" {
		helper(mode)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// helper prints JSON events, one a line, as the lab's processes do.
func helper(mode string) {
	switch mode {
	case "events":
		// Listens, says something on stderr and in plain text, ticks,
		// echoes its stdin, and says goodbye on SIGINT.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		fmt.Println(`{"event":"listening","addr":"127.0.0.1:1"}`)
		fmt.Println(`{"event":"listening","transport":"metrics","addr":"127.0.0.1:2"}`)
		fmt.Fprintln(os.Stderr, "helper: on stderr")
		fmt.Println("not json")
		for i := range 3 {
			fmt.Printf(`{"event":"tick","n":%d}`+"\n", i)
		}
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				fmt.Printf(`{"event":"line","line":%q}`+"\n", sc.Text())
			}
		}()
		<-sig
		fmt.Println(`{"event":"bye"}`)
	case "stubborn":
		// Ignores SIGINT: Stop must kill it.
		signal.Ignore(os.Interrupt)
		fmt.Println(`{"event":"ready"}`)
		time.Sleep(time.Minute)
	case "flood":
		// Many events, a line too long to keep, and no final newline.
		w := bufio.NewWriter(os.Stdout)
		for i := range 1000 {
			fmt.Fprintf(w, `{"event":"n","n":%d}`+"\n", i)
		}
		fmt.Fprintf(w, `{"event":"long","s":"%s"}`+"\n", strings.Repeat("x", 2<<20))
		fmt.Fprint(w, `{"event":"end"}`)
		w.Flush()
	}
}

// helperCmd is the command that runs helper mode.
func helperCmd(t *testing.T, mode string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROC_TEST_HELPER="+mode)
	return cmd
}

func TestEventsWaitStop(t *testing.T) {
	p := StartT(t, helperCmd(t, "events"), Stdin(), Name("helper"))
	if ev := p.Wait("tick", 10*time.Second, func(ev Event) bool { return ev["n"] == 2.0 }); ev == nil {
		t.Fatal("no tick 2")
	}
	if !p.WaitCount("tick", 3, time.Second) || p.WaitCount("tick", 4, 100*time.Millisecond) {
		t.Fatalf("ticks: %d", p.Count("tick", nil))
	}
	if n := p.Count("tick", func(ev Event) bool { return ev["n"].(float64) >= 1 }); n != 2 {
		t.Fatalf("Count of ticks from 1: %d", n)
	}
	if ev := p.Last("tick"); ev["n"] != 2.0 {
		t.Fatalf("Last tick %v", ev)
	}
	if p.Last("nothing") != nil || p.Wait("nothing", 50*time.Millisecond, nil) != nil {
		t.Fatal("an event that never came")
	}
	if p.Addr("tcp") != "127.0.0.1:1" || p.Addr("metrics") != "127.0.0.1:2" || p.Addr("udp") != "" {
		t.Fatalf("addresses %q %q", p.Addr("tcp"), p.Addr("metrics"))
	}
	if err := p.Send("hello"); err != nil {
		t.Fatal(err)
	}
	if p.Wait("line", 10*time.Second, func(ev Event) bool { return ev["line"] == "hello" }) == nil {
		t.Fatal("no echo")
	}
	// The log holds stderr and the plain text of stdout.
	if !p.Until(10*time.Second, func() bool { return strings.Contains(p.Log(), "helper: on stderr") }) {
		t.Fatalf("log %q", p.Log())
	}
	if !strings.Contains(p.Log(), "not json\n") {
		t.Fatalf("log %q", p.Log())
	}
	if p.Pid() <= 0 || p.Name() != "helper" {
		t.Fatalf("pid %d name %q", p.Pid(), p.Name())
	}
	if u := p.Usage(); u.RSSKiB == 0 || u.FDs == 0 {
		t.Fatalf("usage %v", u)
	}
	p.Stop()
	p.Stop() // idempotent
	select {
	case <-p.Done():
	default:
		t.Fatal("not done after Stop")
	}
	if p.Last("bye") == nil {
		t.Fatalf("no bye after SIGINT: %v", p.Events())
	}
	if err := p.Err(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	// Wait returns at once once the process has ended.
	start := time.Now()
	if p.Wait("nothing", time.Minute, nil) != nil || time.Since(start) > time.Second {
		t.Fatal("Wait after the end")
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	p, err := Start(helperCmd(t, "stubborn"), Grace(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if p.Wait("ready", 10*time.Second, nil) == nil {
		p.Stop()
		t.Fatal("not ready")
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 3 { // concurrent Stops all return when it has ended
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	wg.Wait()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Stop took %v", d)
	}
	if p.Err() == nil {
		t.Fatal("killed, yet exited cleanly")
	}
}

func TestBoundsAndTee(t *testing.T) {
	pr, pw := io.Pipe()
	var teed []string
	teeDone := make(chan struct{})
	go func() {
		defer close(teeDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			teed = append(teed, sc.Text())
		}
	}()
	p, err := Start(helperCmd(t, "flood"), MaxEvents(100), Tee(pw), LogLimit(10))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	<-teeDone
	evs := p.Events()
	if len(evs) != 100 || evs[0]["n"] != 901.0 || evs[98]["n"] != 999.0 || evs[99]["event"] != "end" {
		t.Fatalf("%d events kept, first %v, last %v", len(evs), evs[0], evs[len(evs)-1])
	}
	if p.Count("long", nil) != 0 || p.Count("n", nil) != 99 {
		t.Fatal("the long line was kept, or the count is off")
	}
	if len(teed) != 1001 || teed[0] != `{"event":"n","n":0}` || teed[1000] != `{"event":"end"}` { // not the long line
		t.Fatalf("tee: %d lines", len(teed))
	}
	if log, mark := p.LogSince(0); log != "" || mark != 0 {
		t.Fatalf("log %q", log)
	}
}

func TestLogSince(t *testing.T) {
	p := &Proc{cfg: config{logLimit: 8}}
	p.appendLog([]byte("abcd"))
	s, m := p.LogSince(0)
	if s != "abcd" || m != 4 {
		t.Fatalf("%q %d", s, m)
	}
	p.appendLog([]byte("efghijklmnopq"))
	if s, m2 := p.LogSince(m); s != "jklmnopq" || m2 != 17 {
		t.Fatalf("%q %d", s, m2)
	}
	if s, _ := p.LogSince(15); s != "pq" {
		t.Fatalf("%q", s)
	}
	if p.Log() != "jklmnopq" {
		t.Fatalf("%q", p.Log())
	}
}

// fakeTB is a test that StartT reports to.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	failed   bool
	logs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Cleanup(fn func())     { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Failed() bool          { f.mu.Lock(); defer f.mu.Unlock(); return f.failed }
func (f *fakeTB) Fatalf(string, ...any) { panic("Fatalf") }
func (f *fakeTB) Log(args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprint(args...))
}

func (f *fakeTB) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// A failed test shows the process's log and last events; a passing one
// does not.
func TestLogOnFailure(t *testing.T) {
	for _, failed := range []bool{false, true} {
		f := &fakeTB{failed: failed}
		p := StartT(f, helperCmd(t, "events"), Name("helper"))
		if p.Wait("tick", 10*time.Second, func(ev Event) bool { return ev["n"] == 2.0 }) == nil {
			f.end()
			t.Fatal("no ticks")
		}
		p.Until(5*time.Second, func() bool { return strings.Contains(p.Log(), "on stderr") })
		f.end()
		select {
		case <-p.Done():
		default:
			t.Fatal("the cleanup did not stop the process")
		}
		if !failed {
			if len(f.logs) != 0 {
				t.Fatalf("passing test logged %q", f.logs)
			}
			continue
		}
		if len(f.logs) != 1 {
			t.Fatalf("logs %q", f.logs)
		}
		for _, want := range []string{"helper (", "ended: exit status 0", "--- log:\n", "helper: on stderr", "not json", `{"event":"tick","n":2}`, `{"event":"bye"}`, "events:"} {
			if !strings.Contains(f.logs[0], want) {
				t.Errorf("report lacks %q:\n%s", want, f.logs[0])
			}
		}
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, 5*time.Second, "three polls", func() bool { n++; return n == 3 })
	f := &fakeTB{}
	defer func() {
		if r := recover(); r != "Fatalf" {
			t.Fatalf("WaitFor did not fail: %v", r)
		}
	}()
	WaitFor(f, 300*time.Millisecond, "never", func() bool { return false })
}
