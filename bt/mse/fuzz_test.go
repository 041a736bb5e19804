package mse

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// byteConn is a connection whose far side sent b and then closed, and which
// swallows what is written to it.
type byteConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *byteConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *byteConn) SetDeadline(time.Time) error      { return nil }
func (c *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error { return nil }
func (c *byteConn) Close() error                     { return nil }

// Any bytes at all: an error or a connection, never a panic, and never
// more read during the handshake than it allows.
func FuzzAccept(f *testing.F) {
	f.Add(append([]byte(protocol), make([]byte, 48)...))
	f.Add(bytes.Repeat([]byte{7}, keyLen+20))
	f.Add(bytes.Repeat([]byte{0xff}, keyLen+600))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		c, encrypted, err := Accept(&byteConn{r: r}, ih, time.Time{})
		read := len(b) - r.Len()
		// The handshake reads a bounded amount, whatever it is fed.
		if limit := keyLen + maxPad + 20 + 20 + 14 + maxPad + 2 + maxIA; read > limit {
			t.Fatalf("the handshake read %d bytes, limit %d", read, limit)
		}
		if err != nil {
			return
		}
		if !encrypted && read != len(protocol) {
			t.Fatalf("a plain handshake consumed %d bytes", read)
		}
		io.Copy(io.Discard, io.LimitReader(c, 1<<16))
	})
}
