package mse

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// ErrNoVC is returned by Initiate when the receiver's answer has no
// verification constant where it must be.
var ErrNoVC = errors.New("mse: no verification constant from the receiver")

// Initiate runs the initiating side of MSE on c for infohash, offering the
// methods in provide (CryptoRC4, CryptoPlain or both) and sending ia (the
// BitTorrent handshake, usually) as the initial payload. The returned conn
// carries the payload stream as the receiver chose. The handshake must end
// by deadline (the zero time means none).
func Initiate(c net.Conn, infohash [20]byte, provide uint32, ia []byte, deadline time.Time) (net.Conn, uint32, error) {
	if len(ia) > maxIA {
		return nil, 0, ErrTooLong
	}
	c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	xa := make([]byte, 20)
	rand.Read(xa)
	xaInt := new(big.Int).SetBytes(xa)
	ya := padded(new(big.Int).Exp(gen, xaInt, prime))
	if _, err := c.Write(append(ya, randomPad()...)); err != nil {
		return nil, 0, err
	}
	yb := make([]byte, keyLen)
	if _, err := io.ReadFull(c, yb); err != nil {
		return nil, 0, err
	}
	ybInt := new(big.Int).SetBytes(yb)
	if ybInt.Cmp(big.NewInt(1)) <= 0 || ybInt.Cmp(new(big.Int).Sub(prime, big.NewInt(1))) >= 0 {
		return nil, 0, errors.New("mse: degenerate public key")
	}
	s := padded(new(big.Int).Exp(ybInt, xaInt, prime))
	req1 := hashOf([]byte("req1"), s)
	req2 := hashOf([]byte("req2"), infohash[:])
	req3 := hashOf([]byte("req3"), s)
	msg := append(make([]byte, 0, 40+14+len(ia)), req1[:]...)
	for i := range req2 {
		msg = append(msg, req2[i]^req3[i])
	}
	enc := newRC4(hashOf([]byte("keyA"), s, infohash[:]))
	dec := newRC4(hashOf([]byte("keyB"), s, infohash[:]))
	body := make([]byte, 8, 8+4+2+2+len(ia)) // VC, then no PadC
	body = binary.BigEndian.AppendUint32(body, provide)
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ia)))
	body = append(body, ia...)
	enc.XORKeyStream(body, body)
	if _, err := c.Write(append(msg, body...)); err != nil {
		return nil, 0, err
	}
	// The receiver's VC, encrypted, comes after PadB (at most 512 bytes).
	vc := make([]byte, 8)
	dec.XORKeyStream(vc, vc)
	seen := make([]byte, 0, maxPad+8)
	var one [1]byte
	for !bytes.HasSuffix(seen, vc) {
		if len(seen) == cap(seen) {
			return nil, 0, ErrNoVC
		}
		if _, err := io.ReadFull(c, one[:]); err != nil {
			return nil, 0, err
		}
		seen = append(seen, one[0])
	}
	rest := make([]byte, 6)
	if _, err := io.ReadFull(c, rest); err != nil {
		return nil, 0, err
	}
	dec.XORKeyStream(rest, rest)
	sel := binary.BigEndian.Uint32(rest[:4])
	if padD := int(binary.BigEndian.Uint16(rest[4:])); padD > 0 {
		if padD > maxPad {
			return nil, 0, ErrTooLong
		}
		p := make([]byte, padD)
		if _, err := io.ReadFull(c, p); err != nil {
			return nil, 0, err
		}
		dec.XORKeyStream(p, p)
	}
	if sel&provide == 0 || (sel != CryptoRC4 && sel != CryptoPlain) {
		return nil, 0, fmt.Errorf("%w: receiver chose %#x of %#x", ErrNoCommon, sel, provide)
	}
	mc := &conn{Conn: c}
	if sel == CryptoRC4 {
		mc.dec, mc.enc = dec, enc
	}
	return mc, sel, nil
}

// randomPad is 0 to 512 random bytes.
func randomPad() []byte {
	var nb [2]byte
	rand.Read(nb[:])
	pad := make([]byte, int(binary.BigEndian.Uint16(nb[:]))%(maxPad+1))
	rand.Read(pad)
	return pad
}
