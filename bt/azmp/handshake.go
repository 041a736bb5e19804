package azmp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/seed0021ed4d/pex/bencode"
)

// Handshake types, as in AZ_HANDSHAKE's handshake_type and a peer's _HST
// byte in AZ_PEER_EXCHANGE.
const (
	HandshakePlain  = 0
	HandshakeCrypto = 1
)

// MessageInfo is one entry of AZ_HANDSHAKE's "messages": an id the sender
// accepts and the version it speaks.
type MessageInfo struct {
	ID      string
	Version byte
}

// Handshake is AZ_HANDSHAKE's payload. Unknown keys are ignored when
// decoding.
type Handshake struct {
	Identity      [20]byte // a random session identity (not the peer id)
	Client        string
	Version       string
	TCPPort       int // listen port; BiglyBT does no PEX with a peer that gives none
	UDPPort       int
	UDP2Port      int
	HandshakeType int // HandshakePlain or HandshakeCrypto
	UploadOnly    bool
	Messages      []MessageInfo
}

// Supports reports whether the sender accepts id, and at which version.
func (h *Handshake) Supports(id string) (byte, bool) {
	for _, m := range h.Messages {
		if m.ID == id {
			return m.Version, true
		}
	}
	return 0, false
}

// Bytes encodes h as a bencoded dict.
func (h *Handshake) Bytes() []byte {
	msgs := make([]any, 0, len(h.Messages))
	for _, m := range h.Messages {
		if m.ID == IDHandshake {
			continue // BiglyBT leaves itself out too
		}
		msgs = append(msgs, map[string]any{"id": m.ID, "ver": string([]byte{m.Version})})
	}
	d := map[string]any{
		"identity":       string(h.Identity[:]),
		"client":         h.Client,
		"version":        h.Version,
		"tcp_port":       int64(h.TCPPort),
		"udp_port":       int64(h.UDPPort),
		"udp2_port":      int64(h.UDP2Port),
		"handshake_type": int64(h.HandshakeType),
		"messages":       msgs,
	}
	if h.UploadOnly {
		d["upload_only"] = int64(1)
	} else {
		d["upload_only"] = int64(0)
	}
	b, _ := bencode.Encode(d) // only encodable types above
	return b
}

// Limits on a received handshake.
const (
	maxHandshakeMessages = 256
	maxStringLen         = 64
)

var errHandshake = errors.New("azmp: AZ_HANDSHAKE")

// ParseHandshake decodes AZ_HANDSHAKE's payload. identity, client, version
// and messages are required, as BiglyBT requires them; ports outside
// 0..65535 read as 0.
func ParseHandshake(b []byte) (Handshake, error) {
	var h Handshake
	v, err := bencode.Decode(b)
	if err != nil {
		return h, fmt.Errorf("%w: %w", errHandshake, err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return h, fmt.Errorf("%w: not a dict", errHandshake)
	}
	id, ok := d["identity"].(string)
	if !ok || len(id) != 20 {
		return h, fmt.Errorf("%w: identity missing or not 20 bytes", errHandshake)
	}
	copy(h.Identity[:], id)
	client, ok1 := d["client"].(string)
	version, ok2 := d["version"].(string)
	if !ok1 || !ok2 {
		return h, fmt.Errorf("%w: client or version missing", errHandshake)
	}
	h.Client, h.Version = cleanString(client), cleanString(version)
	h.TCPPort, h.UDPPort, h.UDP2Port = port(d["tcp_port"]), port(d["udp_port"]), port(d["udp2_port"])
	if t, ok := d["handshake_type"].(int64); ok && t == HandshakeCrypto {
		h.HandshakeType = HandshakeCrypto
	}
	if u, ok := d["upload_only"].(int64); ok && u > 0 {
		h.UploadOnly = true
	}
	list, ok := d["messages"].([]any)
	if !ok {
		return h, fmt.Errorf("%w: messages missing", errHandshake)
	}
	if len(list) > maxHandshakeMessages {
		return h, fmt.Errorf("%w: %d messages, limit %d", errHandshake, len(list), maxHandshakeMessages)
	}
	h.Messages = make([]MessageInfo, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return h, fmt.Errorf("%w: a messages entry is not a dict", errHandshake)
		}
		mid, ok1 := m["id"].(string)
		ver, ok2 := m["ver"].(string)
		if !ok1 || !ok2 || len(ver) != 1 || mid == "" || len(mid) > MaxIDLen {
			return h, fmt.Errorf("%w: a messages entry lacks id or a 1-byte ver", errHandshake)
		}
		h.Messages = append(h.Messages, MessageInfo{ID: mid, Version: ver[0]})
	}
	return h, nil
}

func port(v any) int {
	if n, ok := v.(int64); ok && n > 0 && n < 65536 {
		return int(n)
	}
	return 0
}

func cleanString(s string) string {
	s = string(bytes.ToValidUTF8([]byte(s), []byte("?")))
	if len(s) > maxStringLen {
		s = s[:maxStringLen]
	}
	return s
}
