package crawl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
	"github.com/seed0021ed4d/pex/bt/compact"
	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// utPexID is the extended id the crawler takes ut_pex under.
const utPexID = 1

// visit is what one connection to a peer told.
type visit struct {
	reached   bool // the peer answered the BitTorrent handshake for our swarm
	client    string
	peerID    [20]byte
	listen    int        // the peer's listen port, 0 if not told
	yourIP    netip.Addr // the address the peer sees the crawler at
	net       string     // NetUTPex, NetAZMP or "" (no PEX offered)
	encrypted bool
	pex       bool             // a PEX message came
	added     []netip.AddrPort // the peers it named
	err       error            // why the visit ended early; nil when a PEX message came or the peer offered none
}

// PEX networks, as in Peer.Net and Edge.Net.
const (
	NetUTPex = "ut_pex"
	NetAZMP  = "azmp"
)

// errNoPEXInTime ends a visit whose peer offered PEX but sent none
// within Config.PEXWait.
var errNoPEXInTime = errors.New("no PEX message in time")

// visit connects to addr once and takes what the peer tells.
func (c *Crawler) visit(ctx context.Context, addr netip.AddrPort) (v visit) {
	nc, enc, err := c.dial(ctx, addr)
	if err != nil {
		v.err = err
		return v
	}
	v.encrypted = enc
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	defer nc.Close()
	v.err = c.talk(nc, addr, &v)
	if v.err != nil && ctx.Err() != nil {
		v.err = ctx.Err()
	}
	return v
}

func (c *Crawler) dial(ctx context.Context, addr netip.AddrPort) (net.Conn, bool, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	nc, err := c.cfg.Dialer(dctx, "tcp", addr.String())
	if err != nil || !c.cfg.Encrypt {
		return nc, false, err
	}
	raw := nc // the closure must not read nc, which a clear dial replaces
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	mc, _, err := mse.Initiate(nc, c.ih, mse.CryptoRC4|mse.CryptoPlain, nil, time.Now().Add(c.cfg.HandshakeTimeout))
	stop()
	if err == nil {
		return mc, true, nil
	}
	nc.Close()
	c.cfg.Logger.Debug("crawl: MSE failed, dialing in the clear", "peer", addr, "err", err)
	dctx2, cancel2 := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel2()
	nc, err = c.cfg.Dialer(dctx2, "tcp", addr.String())
	return nc, false, err
}

// talk runs the handshakes and waits for the first PEX message.
func (c *Crawler) talk(nc net.Conn, addr netip.AddrPort, v *visit) error {
	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	if !c.cfg.NoAZMP {
		azmp.Offer(&hs.Reserved)
	}
	hs.InfoHash, hs.PeerID = c.ih, c.cfg.PeerID
	nc.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout))
	if _, err := nc.Write(hs.Append(nil)); err != nil {
		return err
	}
	theirs, err := wire.ReadHandshake(nc)
	if err != nil {
		return fmt.Errorf("handshake: %w", eofErr(err))
	}
	if theirs.InfoHash != c.ih {
		return fmt.Errorf("wrong infohash: the peer's handshake is for swarm %x, not %x", theirs.InfoHash, c.ih)
	}
	v.reached, v.peerID = true, theirs.PeerID
	if azmp.Chosen(hs.Reserved, theirs.Reserved) {
		return c.talkAZ(nc, addr, v)
	}
	if !theirs.LTEP() {
		return nil // no extension protocol: no PEX to wait for
	}
	return c.talkLTEP(nc, addr, v)
}

// waitDeadline sets nc's read deadline to the next keep-alive or the end
// of the wait, whichever is first.
func waitDeadline(nc net.Conn, end time.Time) {
	if k := time.Now().Add(KeepAliveInterval); k.Before(end) {
		end = k
	}
	nc.SetReadDeadline(end)
}

// keepAlive writes a keep-alive frame while a visit waits.
func (c *Crawler) keepAlive(nc net.Conn, frame []byte) error {
	nc.SetWriteDeadline(time.Now().Add(c.cfg.HandshakeTimeout))
	_, err := nc.Write(frame)
	return err
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

func eofErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("closed by peer")
	}
	return err
}

func (c *Crawler) talkLTEP(nc net.Conn, addr netip.AddrPort, v *visit) error {
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": utPexID}, Version: c.cfg.Client, YourIP: addr.Addr(), ReqQ: 250}
	msgs := wire.AppendExtended(nil, 0, ext.Bytes())
	msgs = wire.AppendMessage(msgs, wire.MsgInterested, nil) // seeds keep interested peers
	if _, err := nc.Write(msgs); err != nil {
		return err
	}
	r := wire.NewReader(nc, MaxMessageSize)
	recv := pex.NewReceiver(nil)
	handshaken := false
	end := time.Now().Add(c.cfg.HandshakeTimeout)
	for {
		if handshaken {
			waitDeadline(nc, end)
		} else {
			nc.SetReadDeadline(end)
		}
		msg, err := r.ReadMessage()
		if isTimeout(err) && handshaken && time.Now().Before(end) {
			if err := c.keepAlive(nc, wire.AppendKeepAlive(nil)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			switch {
			case isTimeout(err) && !handshaken:
				return errors.New("no extended handshake in time")
			case isTimeout(err):
				return errNoPEXInTime
			}
			return eofErr(err)
		}
		if msg.KeepAlive || msg.ID != wire.MsgExtended || len(msg.Payload) == 0 {
			continue
		}
		switch msg.Payload[0] {
		case 0:
			if handshaken {
				continue
			}
			h, err := wire.ParseExtHandshake(msg.Payload[1:])
			if err != nil {
				return err
			}
			handshaken = true
			v.client, v.yourIP = h.Version, h.YourIP.Unmap()
			if h.Port > 0 && h.Port < 65536 {
				v.listen = h.Port
			}
			if id := h.M["ut_pex"]; id <= 0 || id > 255 {
				return nil // no ut_pex: nothing to wait for
			}
			v.net = NetUTPex
			end = time.Now().Add(c.cfg.PEXWait)
		case utPexID:
			added, _, err := recv.Receive(time.Now(), msg.Payload[1:], netip.AddrPort{})
			if err != nil {
				return err
			}
			v.pex = true
			for _, p := range added {
				v.added = append(v.added, compact.Unmap(p.Addr))
			}
			return nil
		}
	}
}

// azMessages are the AZMP messages the crawler says it takes.
var azMessages = []string{azmp.IDHandshake, azmp.IDPeerExchange, azmp.IDKeepAlive, azmp.IDInterested, azmp.IDUninterested,
	azmp.IDChoke, azmp.IDUnchoke, azmp.IDHave, azmp.IDBitfield}

func (c *Crawler) talkAZ(nc net.Conn, addr netip.AddrPort, v *visit) error {
	name, ver, _ := strings.Cut(c.cfg.Client, "/")
	h := azmp.Handshake{Identity: c.azIdentity, Client: name, Version: ver}
	for _, id := range azMessages {
		h.Messages = append(h.Messages, azmp.MessageInfo{ID: id, Version: 1})
	}
	if _, err := nc.Write(azmp.AppendFrame(nil, azmp.IDHandshake, 1, h.Bytes())); err != nil {
		return err
	}
	r := azmp.NewReader(nc, MaxMessageSize)
	recv := pex.NewAZReceiver(nil)
	var theirs azmp.Handshake
	for {
		f, err := r.ReadFrame()
		if err != nil {
			if isTimeout(err) {
				return errors.New("no AZ_HANDSHAKE in time")
			}
			return eofErr(err)
		}
		if string(f.ID) != azmp.IDHandshake {
			continue
		}
		if theirs, err = azmp.ParseHandshake(f.Payload); err != nil {
			return err
		}
		break
	}
	v.client = strings.TrimSpace(theirs.Client + " " + theirs.Version)
	if theirs.TCPPort > 0 && theirs.TCPPort < 65536 {
		v.listen = theirs.TCPPort
	}
	_, keep := theirs.Supports(azmp.IDKeepAlive)
	if _, ok := theirs.Supports(azmp.IDInterested); ok {
		if _, err := nc.Write(azmp.AppendFrame(nil, azmp.IDInterested, 1, nil)); err != nil {
			return err
		}
	}
	if _, ok := theirs.Supports(azmp.IDPeerExchange); !ok {
		return nil
	}
	v.net = NetAZMP
	end := time.Now().Add(c.cfg.PEXWait)
	for {
		waitDeadline(nc, end)
		f, err := r.ReadFrame()
		if isTimeout(err) && time.Now().Before(end) {
			if keep {
				if err := c.keepAlive(nc, azmp.AppendFrame(nil, azmp.IDKeepAlive, 1, nil)); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
			if isTimeout(err) {
				return errNoPEXInTime
			}
			return eofErr(err)
		}
		if string(f.ID) != azmp.IDPeerExchange {
			continue
		}
		added, _, err := recv.ReceiveAZ(time.Now(), f.Payload, c.ih, netip.AddrPort{})
		if err != nil {
			return err
		}
		v.pex = true
		for _, p := range added {
			v.added = append(v.added, compact.Unmap(p.Addr))
		}
		return nil
	}
}
