package mse

import (
	"bytes"
	"crypto/rand"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ih = [20]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

// initiator is side A of MSE, as aria2 or libtorrent run it.
type initiator struct {
	c        net.Conn
	dec, enc *rc4.Cipher
	sel      uint32
}

// initiate runs A's side: provide is crypto_provide, ia the initial
// payload, skey the infohash A asks for; vc replaces the verification
// constant when set.
func initiate(c net.Conn, skey [20]byte, provide uint32, ia []byte, vc []byte) (*initiator, error) {
	xa := make([]byte, 20)
	rand.Read(xa)
	ya := new(big.Int).Exp(gen, new(big.Int).SetBytes(xa), prime)
	padA := make([]byte, 37)
	if _, err := c.Write(append(padded(ya), padA...)); err != nil {
		return nil, err
	}
	yb := make([]byte, keyLen)
	if _, err := io.ReadFull(c, yb); err != nil {
		return nil, err
	}
	s := padded(new(big.Int).Exp(new(big.Int).SetBytes(yb), new(big.Int).SetBytes(xa), prime))
	req1 := hashOf([]byte("req1"), s)
	req2 := hashOf([]byte("req2"), skey[:])
	req3 := hashOf([]byte("req3"), s)
	msg := append([]byte{}, req1[:]...)
	for i := range req2 {
		msg = append(msg, req2[i]^req3[i])
	}
	enc := newRC4(hashOf([]byte("keyA"), s, skey[:]))
	dec := newRC4(hashOf([]byte("keyB"), s, skey[:]))
	if vc == nil {
		vc = make([]byte, 8)
	}
	body := append([]byte{}, vc...)
	body = binary.BigEndian.AppendUint32(body, provide)
	body = binary.BigEndian.AppendUint16(body, 3)
	body = append(body, 0, 0, 0)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ia)))
	body = append(body, ia...)
	enc.XORKeyStream(body, body)
	if _, err := c.Write(append(msg, body...)); err != nil {
		return nil, err
	}
	// Find B's encrypted VC after PadB.
	want := make([]byte, 8)
	dec2 := newRC4(hashOf([]byte("keyB"), s, skey[:]))
	dec2.XORKeyStream(want, want)
	var seen []byte
	var one [1]byte
	for !bytes.HasSuffix(seen, want) {
		if len(seen) > maxPad+8 {
			return nil, errors.New("no VC from B")
		}
		if _, err := io.ReadFull(c, one[:]); err != nil {
			return nil, err
		}
		seen = append(seen, one[0])
	}
	dec.XORKeyStream(make([]byte, 8), make([]byte, 8)) // the VC
	rest := make([]byte, 6)
	if _, err := io.ReadFull(c, rest); err != nil {
		return nil, err
	}
	dec.XORKeyStream(rest, rest)
	a := &initiator{c: c, sel: binary.BigEndian.Uint32(rest[:4])}
	if padD := binary.BigEndian.Uint16(rest[4:]); padD > 0 {
		p := make([]byte, padD)
		io.ReadFull(c, p)
		dec.XORKeyStream(p, p)
	}
	if a.sel == CryptoRC4 {
		a.dec, a.enc = dec, enc
	}
	return a, nil
}

func (a *initiator) write(b []byte) {
	b = append([]byte(nil), b...)
	if a.enc != nil {
		a.enc.XORKeyStream(b, b)
	}
	a.c.Write(b)
}

func (a *initiator) read(n int) []byte {
	b := make([]byte, n)
	io.ReadFull(a.c, b)
	if a.dec != nil {
		a.dec.XORKeyStream(b, b)
	}
	return b
}

func pipe(t *testing.T) (a, b net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestPlainHandshakePassesThrough(t *testing.T) {
	a, b := pipe(t)
	hs := append([]byte(protocol), make([]byte, 48)...)
	go a.Write(hs)
	c, encrypted, err := Accept(b, ih, time.Now().Add(5*time.Second))
	if err != nil || encrypted {
		t.Fatalf("%v %v", encrypted, err)
	}
	got := make([]byte, len(hs))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, hs) {
		t.Fatalf("read %q %v", got, err)
	}
}

func TestMSE(t *testing.T) {
	for _, c := range []struct {
		name    string
		provide uint32
		want    uint32
	}{
		{"rc4", CryptoRC4 | CryptoPlain, CryptoRC4},
		{"plain", CryptoPlain, CryptoPlain},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := pipe(t)
			type result struct {
				in  *initiator
				err error
			}
			done := make(chan result, 1)
			go func() {
				in, err := initiate(a, ih, c.provide, []byte("initial payload"), nil)
				done <- result{in, err}
			}()
			bc, encrypted, err := Accept(b, ih, time.Now().Add(5*time.Second))
			if err != nil || !encrypted {
				t.Fatalf("Accept: %v %v", encrypted, err)
			}
			r := <-done
			if r.err != nil || r.in.sel != c.want {
				t.Fatalf("initiator: select %#x, %v", r.in.sel, r.err)
			}
			got := make([]byte, len("initial payload"))
			if _, err := io.ReadFull(bc, got); err != nil || string(got) != "initial payload" {
				t.Fatalf("IA %q %v", got, err)
			}
			r.in.write([]byte("then the stream"))
			got = make([]byte, len("then the stream"))
			if _, err := io.ReadFull(bc, got); err != nil || string(got) != "then the stream" {
				t.Fatalf("stream %q %v", got, err)
			}
			reply := []byte("and back")
			bc.Write(reply)
			if string(reply) != "and back" {
				t.Fatal("Write changed the caller's bytes")
			}
			if got := r.in.read(len(reply)); string(got) != "and back" {
				t.Fatalf("reply %q", got)
			}
		})
	}
}

func TestMSEErrors(t *testing.T) {
	other := ih
	other[0]++
	for _, c := range []struct {
		name string
		run  func(a net.Conn)
		want error
	}{
		{"another infohash", func(a net.Conn) { initiate(a, other, CryptoRC4, nil, nil) }, ErrUnknownHash},
		{"bad VC", func(a net.Conn) { initiate(a, ih, CryptoRC4, nil, []byte{1, 0, 0, 0, 0, 0, 0, 0}) }, ErrBadVC},
		{"no common method", func(a net.Conn) { initiate(a, ih, 0x10, nil, nil) }, ErrNoCommon},
		{"no sync", func(a net.Conn) {
			junk := make([]byte, keyLen+600)
			rand.Read(junk)
			junk[0] = 7
			a.Write(junk)
		}, ErrNoSync},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := pipe(t)
			go func() {
				c.run(a)
				io.Copy(io.Discard, a)
			}()
			_, _, err := Accept(b, ih, time.Now().Add(5*time.Second))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			b.Close()
		})
	}
}

// Nothing at all, or too little, ends at the deadline.
func TestMSEDeadline(t *testing.T) {
	a, b := pipe(t)
	a.Write([]byte{7, 7, 7})
	start := time.Now()
	_, _, err := Accept(b, ih, start.Add(200*time.Millisecond))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

// Initiate against Accept: the initial payload and the stream both ways,
// for each method the initiator may offer.
func TestInitiateAccept(t *testing.T) {
	for _, c := range []struct {
		name    string
		provide uint32
		want    uint32
	}{
		{"rc4 or plain", CryptoRC4 | CryptoPlain, CryptoRC4},
		{"rc4", CryptoRC4, CryptoRC4},
		{"plain", CryptoPlain, CryptoPlain},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := pipe(t)
			type result struct {
				c   net.Conn
				sel uint32
				err error
			}
			done := make(chan result, 1)
			go func() {
				ac, sel, err := Initiate(a, ih, c.provide, []byte("handshake"), time.Now().Add(5*time.Second))
				done <- result{ac, sel, err}
			}()
			bc, encrypted, err := Accept(b, ih, time.Now().Add(5*time.Second))
			if err != nil || !encrypted {
				t.Fatalf("Accept: %v %v", encrypted, err)
			}
			r := <-done
			if r.err != nil || r.sel != c.want {
				t.Fatalf("Initiate: %#x %v", r.sel, r.err)
			}
			got := make([]byte, 9)
			if _, err := io.ReadFull(bc, got); err != nil || string(got) != "handshake" {
				t.Fatalf("IA %q %v", got, err)
			}
			r.c.Write([]byte("ping"))
			io.ReadFull(bc, got[:4])
			bc.Write([]byte("pong"))
			back := make([]byte, 4)
			io.ReadFull(r.c, back)
			if string(got[:4]) != "ping" || string(back) != "pong" {
				t.Fatalf("stream: %q %q", got[:4], back)
			}
		})
	}
	// A receiver for another infohash refuses.
	a, b := pipe(t)
	go Initiate(a, ih, CryptoRC4, nil, time.Now().Add(5*time.Second))
	other := ih
	other[3]++
	if _, _, err := Accept(b, other, time.Now().Add(5*time.Second)); !errors.Is(err, ErrUnknownHash) {
		t.Fatalf("err = %v", err)
	}
}

// An accepted link half closes, plain or encrypted: the peer reads what
// was written, then the end of the stream, and can still write back (a
// swarm's referral, bt/swarm/referral.go, relies on it).
func TestAcceptedLinkHalfCloses(t *testing.T) {
	for _, plain := range []bool{true, false} {
		t.Run(map[bool]string{true: "plain", false: "rc4"}[plain], func(t *testing.T) {
			a, b := pipe(t)
			peer := make(chan net.Conn, 1)
			go func() {
				if plain {
					a.Write(append([]byte(protocol), make([]byte, 48)...))
					peer <- a
					return
				}
				ac, _, err := Initiate(a, ih, CryptoRC4, nil, time.Now().Add(5*time.Second))
				if err != nil {
					ac = nil
				}
				peer <- ac
			}()
			bc, _, err := Accept(b, ih, time.Now().Add(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			ac := <-peer
			if ac == nil {
				t.Fatal("Initiate failed")
			}
			if plain {
				io.ReadFull(bc, make([]byte, 68)) // the handshake it sent
			}
			cw, ok := bc.(interface{ CloseWrite() error })
			if !ok {
				t.Fatalf("%T has no CloseWrite", bc)
			}
			bc.Write([]byte("bye"))
			if err := cw.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			ac.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(ac)
			if err != nil || string(got) != "bye" {
				t.Fatalf("peer read %q, %v; want \"bye\" and the end", got, err)
			}
			ac.Write([]byte("ok"))
			back := make([]byte, 2)
			bc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(bc, back); err != nil || string(back) != "ok" {
				t.Fatalf("after the half close, read %q, %v", back, err)
			}
		})
	}
}
