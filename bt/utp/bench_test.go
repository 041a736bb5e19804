package utp

// Benchmarks of uTP against TCP, the baseline, in the same run
// (BENCHMARKS.md, "uTP against TCP"; docs/utp.md):
//
//   - BenchmarkConnectUTP, BenchmarkConnectTCP: one connection set up on
//     loopback and one round trip of a 68-byte BitTorrent handshake over
//     it, then closed. The sockets (or the listener) are made once.
//     dial-ns/op is the part spent in the dial alone.
//   - BenchmarkIdleConnMemoryUTP, BenchmarkIdleConnMemoryTCP: what 1,000
//     idle connections hold, each end with a goroutine blocked in Read as
//     a swarm's reader is. Each iteration runs in a process of its own (the
//     test binary run again, TestIdleConnMemoryChild), so that memory freed
//     by an earlier iteration cannot hide what the next one takes. The
//     figures are per connection end (both ends live in the process: the
//     totals are halved), which is what one peer costs a node:
//     B/conn, the Go heap and goroutine stacks (runtime.MemStats);
//     anon-B/conn, the process's anonymous memory (smaps_rollup), which
//     also holds libutp's C heap, invisible to MemStats; kslab-B/conn, the
//     kernel's slab (/proc/meminfo, machine-wide, so noisy), where TCP
//     keeps its sockets. anon-B/socket is a uTP socket's own anonymous
//     memory, paid once per listen address (two sockets made and a first
//     connection opened and closed, halved).
//
// Run without -race: the race detector multiplies every figure.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// handshakeLen is a BitTorrent handshake's size (BEP 3), what the connect
// benchmarks send and echo.
const handshakeLen = 68

// echoOnce reads one handshake from c, writes it back and closes c.
func echoOnce(c net.Conn) {
	defer c.Close()
	var buf [handshakeLen]byte
	if _, err := io.ReadFull(c, buf[:]); err != nil {
		return
	}
	c.Write(buf[:])
}

// connectRoundTrip sends a handshake on c, reads the echo and closes c.
func connectRoundTrip(b *testing.B, c net.Conn, msg []byte) {
	var buf [handshakeLen]byte
	if _, err := c.Write(msg); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf[:]); err != nil {
		b.Fatal(err)
	}
	c.Close()
}

func BenchmarkConnectUTP(b *testing.B) {
	if !Supported() {
		b.Skip("no uTP in this build")
	}
	srv, err := Listen("udp4", "127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	cli, err := Listen("udp4", "127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			echoOnce(c)
		}
	})
	msg := make([]byte, handshakeLen)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var dialing time.Duration
	for b.Loop() {
		t0 := time.Now()
		c, err := cli.DialContext(ctx, srv.AddrPort())
		dialing += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		connectRoundTrip(b, c, msg)
	}
	b.StopTimer()
	b.ReportMetric(float64(dialing.Nanoseconds())/float64(b.N), "dial-ns/op")
	cli.Close()
	srv.Close()
	wg.Wait()
}

func BenchmarkConnectTCP(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			echoOnce(c)
		}
	})
	msg := make([]byte, handshakeLen)
	var d net.Dialer
	ctx := context.Background()
	addr := ln.Addr().String()
	b.ReportAllocs()
	b.ResetTimer()
	var dialing time.Duration
	for b.Loop() {
		t0 := time.Now()
		c, err := d.DialContext(ctx, "tcp4", addr)
		dialing += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		connectRoundTrip(b, c, msg)
	}
	b.StopTimer()
	b.ReportMetric(float64(dialing.Nanoseconds())/float64(b.N), "dial-ns/op")
	ln.Close()
	wg.Wait()
}

// idleConns is how many idle connections a memory measurement holds.
const idleConns = 1000

// idleChildEnv names the transport a child process measures.
const idleChildEnv = "PEX_UTP_IDLE_CHILD"

// idleMem is what a child process measured, in bytes, over all
// idleConns connections (both ends), and over the two uTP sockets (or the
// TCP listener) with a first connection.
type idleMem struct {
	GoBytes    int64 // HeapAlloc + StackInuse
	Anon, Slab int64
	SocketAnon int64
}

func BenchmarkIdleConnMemoryUTP(b *testing.B) {
	if !Supported() {
		b.Skip("no uTP in this build")
	}
	benchIdleMemory(b, "utp")
}

func BenchmarkIdleConnMemoryTCP(b *testing.B) { benchIdleMemory(b, "tcp") }

func benchIdleMemory(b *testing.B, kind string) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var sum idleMem
	n := 0
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, exe, "-test.run=^TestIdleConnMemoryChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), idleChildEnv+"="+kind)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		var m idleMem
		line := ""
		for l := range strings.Lines(string(out)) {
			if rest, ok := strings.CutPrefix(l, "IDLE-MEM "); ok {
				line = rest
			}
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			b.Fatalf("child printed no figures: %v\n%s", err, out)
		}
		sum.GoBytes += m.GoBytes
		sum.Anon += m.Anon
		sum.Slab += m.Slab
		sum.SocketAnon += m.SocketAnon
		n++
	}
	ends := float64(n * 2 * idleConns)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(sum.GoBytes)/ends, "B/conn")
	b.ReportMetric(float64(sum.Anon)/ends, "anon-B/conn")
	b.ReportMetric(float64(sum.Slab)/ends, "kslab-B/conn")
	if kind == "utp" {
		b.ReportMetric(float64(sum.SocketAnon)/float64(2*n), "anon-B/socket")
	}
}

// TestIdleConnMemoryChild is one memory measurement, run only as a child
// of BenchmarkIdleConnMemory*: it opens idleConns idle connections and
// prints what they hold.
func TestIdleConnMemoryChild(t *testing.T) {
	kind := os.Getenv(idleChildEnv)
	if kind == "" {
		t.Skip("run by BenchmarkIdleConnMemoryUTP and BenchmarkIdleConnMemoryTCP")
	}
	var readers sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	// hold keeps c open with a goroutine blocked reading it, as a swarm's
	// reader waits for the next message's length.
	hold := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		readers.Go(func() {
			var l [4]byte
			io.ReadFull(c, l[:])
		})
	}

	m0 := measure(t)
	var dial func() (net.Conn, error)
	var accept func() (net.Conn, error)
	var closeAll func()
	switch kind {
	case "utp":
		a, err := Listen("udp4", "127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := Listen("udp4", "127.0.0.1:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		dial = func() (net.Conn, error) { return a.DialContext(ctx, bs.AddrPort()) }
		accept = bs.Accept
		closeAll = func() { a.Close(); bs.Close() }
	case "tcp":
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var d net.Dialer
		dial = func() (net.Conn, error) { return d.Dial("tcp4", ln.Addr().String()) }
		accept = ln.Accept
		closeAll = func() { ln.Close() }
	default:
		t.Fatalf("%s=%q: want utp or tcp", idleChildEnv, kind)
	}
	// Each dial waits for its accept: go-libutp closes an incoming
	// connection that finds its accept queue (5) full, and a tight loop of
	// dials can outrun the accepting goroutine.
	got := make(chan net.Conn, 1)
	var acceptor sync.WaitGroup
	acceptor.Go(func() {
		for {
			c, err := accept()
			if err != nil {
				return
			}
			got <- c
		}
	})
	pair := func() (dialed, accepted net.Conn) {
		c, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-got:
			return c, a
		case <-time.After(10 * time.Second):
			t.Fatal("a dialed connection was never accepted")
		}
		return nil, nil
	}
	// One connection opened and closed before the first reading: what the
	// first connection sets up once (timers, tables) is not counted.
	c, a := pair()
	c.Close()
	a.Close()
	time.Sleep(100 * time.Millisecond)
	m1 := measure(t)
	for range idleConns {
		c, a := pair()
		hold(c)
		hold(a)
	}
	time.Sleep(200 * time.Millisecond)
	m2 := measure(t)
	res := idleMem{
		GoBytes:    m2.goBytes - m1.goBytes,
		Anon:       m2.anon - m1.anon,
		Slab:       m2.slab - m1.slab,
		SocketAnon: m1.anon - m0.anon,
	}
	j, _ := json.Marshal(res)
	fmt.Printf("IDLE-MEM %s\n", j)

	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	closeAll()
	acceptor.Wait()
	readers.Wait()
}

type memReading struct{ goBytes, anon, slab int64 }

// measure collects garbage, hands free pages back to the kernel, and reads
// the Go runtime's figures, the process's anonymous memory and the
// kernel's slab.
func measure(t *testing.T) memReading {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	anon, err := procKiB("/proc/self/smaps_rollup", "Anonymous:")
	if err != nil {
		t.Fatal(err)
	}
	slab, err := procKiB("/proc/meminfo", "Slab:")
	if err != nil {
		t.Fatal(err)
	}
	return memReading{goBytes: int64(ms.HeapAlloc + ms.StackInuse), anon: anon << 10, slab: slab << 10}
}

// procKiB reads the "Name:   123 kB" line named field from a /proc file.
func procKiB(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == field {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s line", path, field)
}
