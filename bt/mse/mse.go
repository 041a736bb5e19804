// Package mse is BitTorrent's Message Stream Encryption (MSE, also called
// PE): the obfuscated handshake that aria2, rtorrent, libtorrent and others
// may open a connection with, and that some clients require. [Accept] tells
// a plain BitTorrent handshake from an MSE one and, for MSE, runs the
// receiver's side of the key exchange for one infohash; [Initiate] runs the
// initiator's. Both return a connection that carries the payload stream,
// RC4-encrypted or plain as negotiated.
//
// # Handshake, as the receiver B sees it
//
//	A→B  Ya (96 bytes, Diffie-Hellman over the 768-bit MODP prime, g = 2), PadA (0..512)
//	B→A  Yb, PadB (0..512)
//	A→B  SHA1("req1", S), SHA1("req2", infohash) xor SHA1("req3", S),
//	     RC4a(VC, crypto_provide, len(PadC), PadC, len(IA)), RC4a(IA)
//	B→A  RC4b(VC, crypto_select, len(PadD), PadD), then the payload stream
//
// S is the shared secret; RC4a is keyed SHA1("keyA", S, infohash) and RC4b
// SHA1("keyB", S, infohash), each with its first 1024 bytes discarded. VC is
// 8 zero bytes; crypto_provide and crypto_select are bit sets, 0x01 plain,
// 0x02 RC4. IA, the initial payload, is usually A's BitTorrent handshake.
package mse

import (
	"bytes"
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// The Diffie-Hellman group of MSE: a 768-bit prime, generator 2.
var (
	prime, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)
	gen      = big.NewInt(2)
)

// Crypto methods, as in crypto_provide and crypto_select.
const (
	CryptoPlain = 0x01
	CryptoRC4   = 0x02
)

const (
	keyLen     = 96
	maxPad     = 512
	maxIA      = 4096 // a BitTorrent handshake and then some
	protocol   = "\x13BitTorrent protocol"
	discardLen = 1024
)

// Errors from Accept. Each means the connection should be closed.
var (
	ErrNoSync      = errors.New("mse: no synchronisation hash within 532 bytes")
	ErrUnknownHash = errors.New("mse: handshake for another infohash")
	ErrBadVC       = errors.New("mse: verification constant is not zero")
	ErrNoCommon    = errors.New("mse: no common crypto method")
	ErrTooLong     = errors.New("mse: padding or initial payload too long")
)

// Accept reads the start of an incoming connection. A plain BitTorrent
// handshake is left in place: the returned conn reads it again. An MSE
// handshake for infohash is answered; the returned conn carries the payload
// stream. encrypted reports which. The handshake must end by deadline (the
// zero time means none); the conn's deadline is cleared afterwards.
func Accept(c net.Conn, infohash [20]byte, deadline time.Time) (conn net.Conn, encrypted bool, err error) {
	c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	var head [20]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return nil, false, err
	}
	if string(head[:]) == protocol {
		return &prefixConn{Conn: c, prefix: head[:]}, false, nil
	}
	mc, err := receive(c, head[:], infohash)
	if err != nil {
		return nil, false, err
	}
	return mc, true, nil
}

func hashOf(parts ...[]byte) [20]byte {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out [20]byte
	h.Sum(out[:0])
	return out
}

func newRC4(key [20]byte) *rc4.Cipher {
	c, _ := rc4.NewCipher(key[:]) // a 20-byte key is always valid
	var discard [discardLen]byte
	c.XORKeyStream(discard[:], discard[:])
	return c
}

// padded returns a 96-byte big-endian encoding of n.
func padded(n *big.Int) []byte {
	b := make([]byte, keyLen)
	return n.FillBytes(b)
}

func receive(c net.Conn, head []byte, infohash [20]byte) (net.Conn, error) {
	ya := make([]byte, keyLen)
	copy(ya, head)
	if _, err := io.ReadFull(c, ya[len(head):]); err != nil {
		return nil, err
	}
	// Our key pair: 160 random bits.
	xbBytes := make([]byte, 20)
	rand.Read(xbBytes)
	xb := new(big.Int).SetBytes(xbBytes)
	yb := new(big.Int).Exp(gen, xb, prime)
	yaInt := new(big.Int).SetBytes(ya)
	if yaInt.Cmp(big.NewInt(1)) <= 0 || yaInt.Cmp(new(big.Int).Sub(prime, big.NewInt(1))) >= 0 {
		return nil, errors.New("mse: degenerate public key")
	}
	s := padded(new(big.Int).Exp(yaInt, xb, prime))
	if _, err := c.Write(append(padded(yb), randomPad()...)); err != nil {
		return nil, err
	}

	// Find HASH('req1', S) after PadA: it starts within 512 bytes.
	req1 := hashOf([]byte("req1"), s)
	window := make([]byte, 0, maxPad+20)
	var one [1]byte
	for !bytes.HasSuffix(window, req1[:]) {
		if len(window) == cap(window) {
			return nil, ErrNoSync
		}
		if _, err := io.ReadFull(c, one[:]); err != nil {
			return nil, err
		}
		window = append(window, one[0])
	}
	var x [20]byte
	if _, err := io.ReadFull(c, x[:]); err != nil {
		return nil, err
	}
	req2 := hashOf([]byte("req2"), infohash[:])
	req3 := hashOf([]byte("req3"), s)
	for i := range x {
		if x[i] != req2[i]^req3[i] {
			return nil, ErrUnknownHash
		}
	}
	dec := newRC4(hashOf([]byte("keyA"), s, infohash[:]))
	enc := newRC4(hashOf([]byte("keyB"), s, infohash[:]))
	read := func(n int) ([]byte, error) {
		b := make([]byte, n)
		if _, err := io.ReadFull(c, b); err != nil {
			return nil, err
		}
		dec.XORKeyStream(b, b)
		return b, nil
	}
	hdr, err := read(8 + 4 + 2)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:8], make([]byte, 8)) {
		return nil, ErrBadVC
	}
	provide := binary.BigEndian.Uint32(hdr[8:12])
	padC := int(binary.BigEndian.Uint16(hdr[12:14]))
	if padC > maxPad {
		return nil, ErrTooLong
	}
	if _, err := read(padC); err != nil {
		return nil, err
	}
	l, err := read(2)
	if err != nil {
		return nil, err
	}
	iaLen := int(binary.BigEndian.Uint16(l))
	if iaLen > maxIA {
		return nil, ErrTooLong
	}
	ia, err := read(iaLen)
	if err != nil {
		return nil, err
	}
	var sel uint32
	switch {
	case provide&CryptoRC4 != 0:
		sel = CryptoRC4
	case provide&CryptoPlain != 0:
		sel = CryptoPlain
	default:
		return nil, fmt.Errorf("%w: offered %#x", ErrNoCommon, provide)
	}
	reply := make([]byte, 8+4+2)
	binary.BigEndian.PutUint32(reply[8:12], sel)
	enc.XORKeyStream(reply, reply)
	if _, err := c.Write(reply); err != nil {
		return nil, err
	}
	mc := &conn{Conn: c, prefix: ia}
	if sel == CryptoRC4 {
		// IA was sent under RC4 whatever was chosen; with RC4 chosen the
		// rest of the stream continues both ciphers.
		mc.dec, mc.enc = dec, enc
	}
	return mc, nil
}

// prefixConn reads prefix before the rest of Conn.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// CloseWrite shuts down the writing side of the connection underneath,
// when it has one: a swarm half closes a link it turns away (its
// referral), plain or encrypted.
func (p *prefixConn) CloseWrite() error { return closeWrite(p.Conn) }

// conn is an MSE payload stream: the initial payload first, then the
// stream, decrypted and encrypted when RC4 was chosen.
type conn struct {
	net.Conn
	prefix   []byte
	dec, enc *rc4.Cipher // nil when the payload is plain
	wbuf     []byte
}

func (c *conn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	n, err := c.Conn.Read(b)
	if c.dec != nil && n > 0 {
		c.dec.XORKeyStream(b[:n], b[:n])
	}
	return n, err
}

// CloseWrite shuts down the writing side of the connection underneath,
// when it has one (a TCP connection does): RC4 is a stream with no
// trailer, so the peer reads every byte written before it.
func (c *conn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite half closes nc when it can.
func closeWrite(nc net.Conn) error {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Write encrypts into a buffer of its own: the caller's bytes stay as they
// were. Writes must not be concurrent (RC4 is a stream).
func (c *conn) Write(b []byte) (int, error) {
	if c.enc == nil {
		return c.Conn.Write(b)
	}
	if cap(c.wbuf) < len(b) {
		c.wbuf = make([]byte, len(b))
	}
	w := c.wbuf[:len(b)]
	c.enc.XORKeyStream(w, b)
	n, err := c.Conn.Write(w)
	if n < len(b) && err == nil {
		err = io.ErrShortWrite
	}
	return n, err
}
