package pxp

// A peer's connectInfo: the JSON object its hello (or a Go peer's info)
// carries, read with JavaScript's rules: exact keys, the last of a key
// given twice, truthiness for flags.

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"

	"github.com/seed0021ed4d/pex/internal/jsonscan"
)

// remoteHello is what the peer's hello said of it; guarded by Peer.mu.
type remoteHello struct {
	connectInfo
	raw json.RawMessage // the connectInfo as sent
	// compact: raw is as json.Marshal writes it (compactJSON), so a
	// getpeers answer copies it without looking again.
	compact bool
}

type connectInfo struct {
	accepting bool           // an object whose pxp is truthy
	webrtc    bool           // it takes WebRTC upgrades
	id        string         // Go nodes' id
	tcp       string         // Go nodes' advertised TCP address, for direct dials
	observed  netip.AddrPort // where the peer sees this node (Go nodes, direct links)
	dialback  bool           // it answers dialback requests
}

func parseConnectInfo(raw json.RawMessage) connectInfo {
	var ci connectInfo
	// A key given twice counts with its last value, as in JavaScript.
	jsonscan.DecodeObject(raw, func(key, v []byte) {
		switch string(key) {
		case "pxp":
			ci.accepting = truthy(v)
		case "webrtc":
			ci.webrtc = truthy(v)
		case "dialback":
			ci.dialback = truthy(v)
		case "tcp":
			ci.tcp = ""
			if a, err := jsonscan.DecodeString(v); err == nil && len(a) <= 256 {
				ci.tcp = a
			}
		case "id":
			ci.id = ""
			if id, err := jsonscan.DecodeString(v); err == nil && len(id) <= 64 {
				ci.id = id
			}
		case "observed":
			ci.observed = netip.AddrPort{}
			if o, err := jsonscan.DecodeString(v); err == nil && len(o) <= 64 {
				if ap, err := netip.ParseAddrPort(o); err == nil {
					ci.observed = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
				}
			}
		}
	})
	return ci
}

// truthy follows JavaScript's truthiness for the JSON value v: false for
// null, false, 0 and "", true for anything else (a number too large for a
// float64 is Infinity, which is true).
func truthy(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case 'n', 'f':
		return false
	case 't', '{', '[':
		return true
	case '"':
		return len(v) > 2 // escapes stand for at least one character
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return err == nil && f != 0 || math.IsInf(f, 0)
}
