package psk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustKey(t testing.TB) *Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ctx5(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pair runs both sides of the handshake over an in-memory pipe.
func pair(t testing.TB, ck, sk *Key) (cc, sc *Conn, cerr, serr error) {
	t.Helper()
	a, b := memnet.Pipe("client", "server")
	t.Cleanup(func() { a.Close(); b.Close() })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc, serr = Server(ctx5(t), b, sk)
		if serr != nil {
			b.Close()
		}
	}()
	cc, cerr = Client(ctx5(t), a, ck)
	if cerr != nil {
		a.Close()
	}
	wg.Wait()
	return
}

func TestSameKeyLinks(t *testing.T) {
	k := mustKey(t)
	cc, sc, cerr, serr := pair(t, k, k)
	if cerr != nil || serr != nil {
		t.Fatalf("client %v, server %v", cerr, serr)
	}
	// Both ways at once, with writes larger than a frame.
	big := make([]byte, 3*MaxPayload+123)
	rand.Read(big)
	var wg sync.WaitGroup
	for _, dir := range []struct{ w, r *Conn }{{cc, sc}, {sc, cc}} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if n, err := dir.w.Write(big); err != nil || n != len(big) {
				t.Errorf("write: %d %v", n, err)
			}
		}()
		go func() {
			defer wg.Done()
			got := make([]byte, len(big))
			if _, err := io.ReadFull(dir.r, got); err != nil || !bytes.Equal(got, big) {
				t.Errorf("read: %v, equal %v", err, bytes.Equal(got, big))
			}
		}()
	}
	wg.Wait()
	if cc.NetConn().RemoteAddr().String() != "server" || cc.RemoteAddr().String() != "server" {
		t.Errorf("addresses: %v", cc.RemoteAddr())
	}
}

func TestWrongKeyRefusedOnBothSides(t *testing.T) {
	_, _, cerr, serr := pair(t, mustKey(t), mustKey(t))
	if !errors.Is(cerr, ErrKeyMismatch) || !errors.Is(serr, ErrKeyMismatch) {
		t.Fatalf("client %v, server %v: want ErrKeyMismatch on both", cerr, serr)
	}
	if !strings.Contains(cerr.Error(), "refused ours") {
		t.Errorf("client error %q does not say the peer refused", cerr)
	}
}

// A keyless PXP node writes its magic and hello at once; a keyed one on
// either side says the peer has no key.
func TestKeylessPeerRefused(t *testing.T) {
	k := mustKey(t)
	for _, server := range []bool{true, false} {
		a, b := memnet.Pipe("keyed", "plain")
		go func() {
			b.Write([]byte("#PXP#\x00\x03pxp"))
			io.Copy(io.Discard, b)
		}()
		var err error
		if server {
			_, err = Server(ctx5(t), a, k)
		} else {
			_, err = Client(ctx5(t), a, k)
		}
		a.Close()
		b.Close()
		if !errors.Is(err, ErrPeerKeyless) {
			t.Errorf("server %v: %v, want ErrPeerKeyless", server, err)
		}
	}
}

func TestGarbageAndOversizedHandshake(t *testing.T) {
	k := mustKey(t)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), ErrBadPreamble},
		{"oversized", append([]byte(Preamble), 0xff, 0xff), ErrBadHandshake},
		{"short", append([]byte(Preamble), 0, 5, 1, 2, 3, 4, 5), ErrBadHandshake},
		{"random 48", append(append([]byte(Preamble), 0, 48), make([]byte, 48)...), ErrKeyMismatch},
	} {
		a, b := memnet.Pipe("c", "s")
		go func() {
			a.Write(tc.in)
			io.Copy(io.Discard, a)
		}()
		start := time.Now()
		_, err := Server(ctx5(t), b, k)
		a.Close()
		b.Close()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if time.Since(start) > time.Second {
			t.Errorf("%s: refused after %v", tc.name, time.Since(start))
		}
	}
}

// A silent peer holds a handshake until its context ends, no longer.
func TestHandshakeBoundedByContext(t *testing.T) {
	k := mustKey(t)
	for _, server := range []bool{true, false} {
		a, b := memnet.Pipe("c", "s")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		var err error
		if server {
			_, err = Server(ctx, b, k)
		} else {
			_, err = Client(ctx, b, k)
		}
		cancel()
		a.Close()
		b.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("server %v: %v, want the context's deadline", server, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("server %v: took %v", server, d)
		}
	}
	// And a cancel, without a deadline.
	a, b := memnet.Pipe("c", "s")
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := Server(ctx, b, k); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

// A replayed first message gets an answer, but the replayer can write no
// frame the responder accepts.
func TestReplayedHandshakeGetsNowhere(t *testing.T) {
	k := mustKey(t)
	// Record a client's first message.
	a, b := memnet.Pipe("c", "s")
	go Client(ctx5(t), a, k)
	first := make([]byte, len(Preamble)+2+hsMsgSize)
	if _, err := io.ReadFull(b, first); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()

	a, b = memnet.Pipe("replayer", "s")
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		sc, err := Server(ctx5(t), b, k)
		if err == nil {
			_, err = sc.Read(make([]byte, 10))
		}
		done <- err
	}()
	a.Write(first)
	answer := make([]byte, len(Preamble)+2+hsMsgSize)
	if _, err := io.ReadFull(a, answer); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 2+40)
	binary.BigEndian.PutUint16(frame, 40)
	rand.Read(frame[2:])
	a.Write(frame)
	if err := <-done; !errors.Is(err, ErrBadFrame) {
		t.Fatalf("replayer's frame: %v, want ErrBadFrame", err)
	}
}

// After the handshake, a frame that does not open, or one shorter than
// its tag, ends the reading side for good.
func TestBadFramesCut(t *testing.T) {
	k := mustKey(t)
	for _, frame := range [][]byte{
		{0, 3, 1, 2, 3},
		append([]byte{0xff, 0xff}, make([]byte, 0xffff)...),
		append([]byte{0, 20}, make([]byte, 20)...),
	} {
		cc, sc, cerr, serr := pair(t, k, k)
		if cerr != nil || serr != nil {
			t.Fatal(cerr, serr)
		}
		go cc.NetConn().Write(frame)
		buf := make([]byte, 100)
		if _, err := sc.Read(buf); !errors.Is(err, ErrBadFrame) {
			t.Errorf("frame of %d: %v", len(frame), err)
		}
		if _, err := sc.Read(buf); !errors.Is(err, ErrBadFrame) {
			t.Errorf("second read: %v", err)
		}
		cc.Close()
		sc.Close()
	}
}

// A read deadline in the middle of a frame keeps what was read.
func TestReadTimeoutMidFrameResumes(t *testing.T) {
	k := mustKey(t)
	cc, sc, cerr, serr := pair(t, k, k)
	if cerr != nil || serr != nil {
		t.Fatal(cerr, serr)
	}
	defer cc.Close()
	defer sc.Close()
	// Seal a frame through a recording conn, then send it in two halves.
	var rec recorder
	w := &Conn{conn: &rec, send: cc.send}
	w.Write([]byte("hello, keyed world"))
	raw := rec.Bytes()
	cc.NetConn().Write(raw[:7])
	sc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 64)
	if _, err := sc.Read(buf); err == nil || !isTimeout(err) {
		t.Fatalf("want a timeout, got %v", err)
	}
	sc.SetReadDeadline(time.Time{})
	cc.NetConn().Write(raw[7:])
	n, err := sc.Read(buf)
	if err != nil || string(buf[:n]) != "hello, keyed world" {
		t.Fatalf("%q %v", buf[:n], err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

type recorder struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) { return r.buf.Write(b) }
func (r *recorder) Bytes() []byte               { return r.buf.Bytes() }
