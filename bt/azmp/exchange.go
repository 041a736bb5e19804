package azmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/compact"
)

// MaxPeers is the most peers a message carries in each list
// (BiglyBT's MAX_PEERS_PER_VOLLEY); receivers ignore a message with more.
const MaxPeers = 50

// Peer is one entry of an added or dropped list.
type Peer struct {
	Addr    netip.AddrPort
	Crypto  bool   // _HST 1: it expects an encrypted handshake
	UDPPort uint16 // _UDP, 0 if not given
}

// PeerExchange is AZ_PEER_EXCHANGE's payload. Decode reuses its slices, so
// one value kept for a connection's life decodes without allocating.
type PeerExchange struct {
	InfoHash [20]byte
	Added    []Peer
	Dropped  []Peer
	// BadHST or BadUDP: a list's _HST or _UDP string had the wrong length
	// and was ignored (its peers are kept, as BiglyBT keeps them).
	BadHST, BadUDP bool
}

// Reset empties m, keeping its capacity.
func (m *PeerExchange) Reset() {
	m.InfoHash = [20]byte{}
	m.Added, m.Dropped = m.Added[:0], m.Dropped[:0]
	m.BadHST, m.BadUDP = false, false
}

// DecodeError is an AZ_PEER_EXCHANGE payload that is not a well-formed
// message.
type DecodeError struct{ Reason string }

func (e *DecodeError) Error() string { return "azmp: AZ_PEER_EXCHANGE: " + e.Reason }

// ErrEmptyExchange is a message with neither added nor dropped peers,
// which BiglyBT treats as a protocol error too.
var ErrEmptyExchange = &DecodeError{Reason: "neither added nor dropped peers"}

type list struct {
	hst, udp       []byte
	present        bool
	hasHST, hasUDP bool
}

// DecodePeerExchange parses payload into m (which is reset first). Entries
// that are neither 6 nor 18 bytes long are an error.
func DecodePeerExchange(payload []byte, m *PeerExchange) error {
	m.Reset()
	b := payload
	if len(b) == 0 || b[0] != 'd' {
		return &DecodeError{Reason: "payload is not a bencoded dict"}
	}
	b = b[1:]
	var added, dropped list
	var ih []byte
	for {
		if len(b) == 0 {
			return &DecodeError{Reason: "unterminated dict"}
		}
		if b[0] == 'e' {
			break
		}
		key, rest, err := bencode.ReadString(b)
		if err != nil {
			return &DecodeError{Reason: "bad dict key"}
		}
		b = rest
		var str *[]byte
		var l *list
		switch string(key) {
		case "infohash":
			str = &ih
		case "added":
			l = &added
		case "dropped":
			l = &dropped
		case "added_HST":
			str, added.hasHST = &added.hst, true
		case "dropped_HST":
			str, dropped.hasHST = &dropped.hst, true
		case "added_UDP":
			str, added.hasUDP = &added.udp, true
		case "dropped_UDP":
			str, dropped.hasUDP = &dropped.udp, true
		}
		switch {
		case str != nil:
			v, rest, err := bencode.ReadString(b)
			if err != nil {
				return &DecodeError{Reason: fmt.Sprintf("%q is not a string", key)}
			}
			*str, b = v, rest
		case l != nil:
			if len(b) == 0 || b[0] != 'l' {
				return &DecodeError{Reason: fmt.Sprintf("%q is not a list", key)}
			}
			if l.present {
				return &DecodeError{Reason: fmt.Sprintf("%q given twice", key)}
			}
			dst := &m.Added
			if l == &dropped {
				dst = &m.Dropped
			}
			var err error
			if *dst, b, err = readPeers(b[1:], *dst); err != nil {
				return err
			}
			l.present = true
		default:
			if b, err = bencode.Skip(b); err != nil {
				return &DecodeError{Reason: "bad value in dict"}
			}
		}
	}
	if len(ih) != 20 {
		return &DecodeError{Reason: "infohash missing or not 20 bytes"}
	}
	m.InfoHash = [20]byte(ih)
	applyHST(&added, m.Added, m)
	applyHST(&dropped, m.Dropped, m)
	if len(m.Added) == 0 && len(m.Dropped) == 0 {
		return ErrEmptyExchange
	}
	return nil
}

// readPeers appends the entries of a list whose 'l' has been read, and
// returns what follows its 'e'.
func readPeers(b []byte, dst []Peer) ([]Peer, []byte, error) {
	for {
		if len(b) == 0 {
			return dst, b, &DecodeError{Reason: "unterminated peer list"}
		}
		if b[0] == 'e' {
			return dst, b[1:], nil
		}
		s, rest, err := bencode.ReadString(b)
		if err != nil {
			return dst, b, &DecodeError{Reason: "a peer entry is not a string"}
		}
		b = rest
		a, ok := compact.Decode(s)
		if !ok {
			return dst, b, &DecodeError{Reason: fmt.Sprintf("a peer entry of %d bytes (want 6 or 18)", len(s))}
		}
		dst = append(dst, Peer{Addr: a})
	}
}

// applyHST sets the handshake types and UDP ports of a list's peers from
// its _HST and _UDP strings, when their lengths match the list.
func applyHST(l *list, ps []Peer, m *PeerExchange) {
	if l.hasHST {
		if len(l.hst) != len(ps) {
			m.BadHST = true
		} else {
			for i := range ps {
				ps[i].Crypto = l.hst[i] == HandshakeCrypto
			}
		}
	}
	if l.hasUDP {
		if len(l.udp) != 2*len(ps) {
			m.BadUDP = true
		} else {
			for i := range ps {
				ps[i].UDPPort = binary.BigEndian.Uint16(l.udp[2*i:])
			}
		}
	}
}

// ErrUnsupportedAddr is returned by AppendPeerExchange for an address that
// is neither IPv4 nor IPv6.
var ErrUnsupportedAddr = errors.New("azmp: address is neither IPv4 nor IPv6")

// AppendPeerExchange encodes m onto dst with its keys in sorted order:
// added, added_HST, [added_UDP], dropped, dropped_HST, [dropped_UDP],
// infohash. It does not allocate when dst has room. A message with no
// peers is refused with ErrEmptyExchange, as a receiver would refuse it.
func AppendPeerExchange(dst []byte, m *PeerExchange) ([]byte, error) {
	if len(m.Added) == 0 && len(m.Dropped) == 0 {
		return dst, ErrEmptyExchange
	}
	for _, ps := range [][]Peer{m.Added, m.Dropped} {
		for _, p := range ps {
			if !p.Addr.Addr().IsValid() {
				return dst, ErrUnsupportedAddr
			}
		}
	}
	dst = append(dst, 'd')
	dst = appendPeers(dst, "added", m.Added)
	dst = appendPeers(dst, "dropped", m.Dropped)
	dst = append(dst, "8:infohash20:"...)
	dst = append(dst, m.InfoHash[:]...)
	return append(dst, 'e'), nil
}

func appendPeers(dst []byte, key string, ps []Peer) []byte {
	if len(ps) == 0 {
		return dst
	}
	dst = bencode.AppendString(dst, key)
	dst = append(dst, 'l')
	for _, p := range ps {
		if compact.Is4(p.Addr) {
			dst = append(dst, "6:"...)
		} else {
			dst = append(dst, "18:"...)
		}
		dst = compact.Append(dst, p.Addr)
	}
	dst = append(dst, 'e')
	dst = appendKey(dst, key, "_HST")
	dst = strconv.AppendInt(dst, int64(len(ps)), 10)
	dst = append(dst, ':')
	udp := false
	for _, p := range ps {
		if p.Crypto {
			dst = append(dst, HandshakeCrypto)
		} else {
			dst = append(dst, HandshakePlain)
		}
		udp = udp || p.UDPPort != 0
	}
	if udp {
		dst = appendKey(dst, key, "_UDP")
		dst = strconv.AppendInt(dst, int64(2*len(ps)), 10)
		dst = append(dst, ':')
		for _, p := range ps {
			dst = binary.BigEndian.AppendUint16(dst, p.UDPPort)
		}
	}
	return dst
}

// appendKey appends the bencoded string key+suffix without building it.
func appendKey(dst []byte, key, suffix string) []byte {
	dst = strconv.AppendInt(dst, int64(len(key)+len(suffix)), 10)
	dst = append(dst, ':')
	dst = append(dst, key...)
	return append(dst, suffix...)
}
