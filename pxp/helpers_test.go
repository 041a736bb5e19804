package pxp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

const testNet = "pxp-mesh"

func newExchange(t testing.TB, cfg *Config) *Exchange {
	t.Helper()
	e, err := New(testNet, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// link connects a (outgoing) to b (incoming) over an in-memory pipe.
func link(t testing.TB, a, b *Exchange) (ac, bc *Conn) {
	t.Helper()
	return linkAt(t, a, b, "a", "b")
}

// linkAt is link with the pipe's ends at aAddr and bAddr.
func linkAt(t testing.TB, a, b *Exchange, aAddr, bAddr string) (ac, bc *Conn) {
	t.Helper()
	ca, cb := memnet.Pipe(memnet.Addr(aAddr), memnet.Addr(bAddr))
	errc := make(chan error, 1)
	go func() {
		var err error
		bc, err = b.Accept(context.Background(), cb)
		errc <- err
	}()
	ac, err := a.Connect(context.Background(), ca)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return ac, bc
}

func readLine(t testing.TB, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var sb strings.Builder
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			t.Fatalf("reading line: %v (so far %q)", err, sb.String())
		}
		if b[0] == '\n' {
			return sb.String()
		}
		sb.WriteByte(b[0])
	}
}

func writeLine(t testing.TB, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// rawPeer speaks PXP byte by byte, for feeding a node bad input.
type rawPeer struct {
	t     testing.TB
	c     net.Conn
	r     *mux.Reader
	lines map[uint64]*strings.Builder // peer channel id -> partial text
	names map[uint64]string
	nonce int
}

func newRawPeer(t testing.TB, c net.Conn) *rawPeer {
	return &rawPeer{t: t, c: c, r: mux.NewReader(bufio.NewReader(c), 1<<20), lines: map[uint64]*strings.Builder{}, names: map[uint64]string{}}
}

func (r *rawPeer) write(b []byte) error {
	_, err := r.c.Write(b)
	return err
}

func (r *rawPeer) frame(ch uint64, typ uint8, payload string) error {
	return r.write(mux.AppendFrame(nil, ch, typ, []byte(payload)))
}

// start sends magic, opens our "pxp" channel 0 and sends hello.
func (r *rawPeer) start(helloArgs string) {
	r.t.Helper()
	if err := r.write([]byte(wire.Magic)); err != nil {
		r.t.Fatal(err)
	}
	if err := r.frame(0, mux.TypeNew, "pxp"); err != nil {
		r.t.Fatal(err)
	}
	r.line(`["hello","0",` + helloArgs + `]`)
	r.nonce = 1
}

func (r *rawPeer) line(s string) error { return r.frame(0, mux.TypeDataInit, s+"\n") }

// request sends cmd with a fresh nonce and returns the nonce.
func (r *rawPeer) request(cmd, args string) string {
	n := wire.FormatNonce(uint64(r.nonce))
	r.nonce++
	r.line(`["` + cmd + `","` + n + `",` + args + `]`)
	return n
}

// readMagic consumes the node's magic. It must come before any next call.
func (r *rawPeer) readMagic() {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 5)
	if _, err := io.ReadFull(r.c, b); err != nil || string(b) != wire.Magic {
		r.t.Fatalf("magic: %q %v", b, err)
	}
}

// next returns the next control message the node sent on "pxp", skipping
// other channels' data unless want is set for them.
func (r *rawPeer) next() (wire.Message, error) {
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer r.c.SetReadDeadline(time.Time{})
	for {
		f, err := r.r.ReadFrame()
		if err != nil {
			return wire.Message{}, err
		}
		switch f.Type {
		case mux.TypeNew:
			r.names[f.Channel] = string(f.Payload)
		case mux.TypeDataInit:
			if r.names[f.Channel] != "pxp" {
				continue
			}
			sb := r.lines[f.Channel]
			if sb == nil {
				sb = &strings.Builder{}
				r.lines[f.Channel] = sb
			}
			sb.Write(f.Payload)
			s := sb.String()
			if i := strings.IndexByte(s, '\n'); i >= 0 {
				sb.Reset()
				sb.WriteString(s[i+1:])
				m, err := wire.ParseMessage([]byte(s[:i]))
				if err != nil {
					return wire.Message{}, err
				}
				m.Args = append(json.RawMessage(nil), m.Args...)
				return m, nil
			}
		}
	}
}

// expect returns the next message with command cmd, skipping others.
func (r *rawPeer) expect(cmd string) wire.Message {
	r.t.Helper()
	for {
		m, err := r.next()
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", cmd, err)
		}
		if m.Command == cmd {
			return m
		}
	}
}

// expectClosed reads until the node closes the connection.
func (r *rawPeer) expectClosed() {
	r.t.Helper()
	for {
		_, err := r.next()
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
			return
		}
		r.t.Fatalf("expected the node to close the link, got %v", err)
	}
}

// dialRaw connects a raw peer to e (e accepts).
func dialRaw(t testing.TB, e *Exchange) (*rawPeer, chan error) {
	ca, cb := memnet.Pipe("raw", "node")
	errc := make(chan error, 1)
	go func() {
		_, err := e.Accept(context.Background(), cb)
		errc <- err
	}()
	t.Cleanup(func() { ca.Close() })
	rp := newRawPeer(t, ca)
	return rp, errc
}

// waitEvent returns the first event of type typ within 5 s.
func waitEvent(t testing.TB, e *Exchange, typ EventType, match func(Event) bool) Event {
	t.Helper()
	tm := time.NewTimer(5 * time.Second)
	defer tm.Stop()
	for {
		select {
		case ev, ok := <-e.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %v", typ)
			}
			if ev.Type == typ && (match == nil || match(ev)) {
				return ev
			}
		case <-tm.C:
			t.Fatalf("no %v event", typ)
		}
	}
}

func pipe() (*memnet.Conn, *memnet.Conn) { return memnet.Pipe("x", "y") }
