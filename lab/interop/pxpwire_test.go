package interop

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawTCP connects to addr, optionally sends magic and a hello, then sends
// the given bytes.
func rawTCP(t *testing.T, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(ch uint64, typ byte, payload string) []byte {
	b := appendUvarint(nil, ch<<3|uint64(typ))
	b = appendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func helloBytes(args string) []byte {
	b := []byte("#PXP#")
	b = append(b, frame(0, 0, "pxp")...)
	return append(b, frame(0, 2, `["hello","0",`+args+`]`+"\n")...)
}

// waitClosed reads until the node closes the connection.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the node did not close the connection")
	}
}

// readUntil reads from a raw connection for up to 2 s or until want appears.
func readUntil(t *testing.T, c net.Conn, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(2 * time.Second)
	if want != "" {
		deadline = time.Now().Add(20 * time.Second)
	}
	for time.Now().Before(deadline) {
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if want != "" && strings.Contains(string(got), want) {
			break
		}
		if err != nil {
			break
		}
	}
	c.SetReadDeadline(time.Time{})
	return string(got)
}
