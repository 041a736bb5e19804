package pxp

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Commands of the "pxp" control stream (docs/pxp-wire.md §4).
const (
	CmdHello    = "hello"
	CmdGetPeers = "getpeers"
	CmdRelay    = "relay"
	CmdIncoming = "incoming"
	CmdUpgrade  = "upgrade"
	CmdConnect  = "connect"
	CmdRes      = "res"
)

// ProtocolVersion is the only hello version PXP defines.
const ProtocolVersion = 1

// Magic is written by each side before anything else (docs/pxp-wire.md §2).
const Magic = "#PXP#"

// Message is one control message: the JSON array [command, nonce, args].
// Args aliases the parsed line and is valid until the next read.
type Message struct {
	Command string
	Nonce   string
	Args    json.RawMessage
}

// ParseMessage decodes one line (without its newline). It accepts any
// command string; callers decide what to do with unknown ones.
func ParseMessage(line []byte) (Message, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(line, &parts); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return Message{}, &ProtocolError{Reason: "message is not a JSON array"}
		}
		return Message{}, &ProtocolError{Reason: "invalid JSON: " + err.Error()}
	}
	if len(parts) != 3 {
		return Message{}, &ProtocolError{Reason: fmt.Sprintf("message has %d elements, want 3", len(parts))}
	}
	var m Message
	if err := json.Unmarshal(parts[0], &m.Command); err != nil {
		return Message{}, &ProtocolError{Reason: "command is not a string"}
	}
	if err := json.Unmarshal(parts[1], &m.Nonce); err != nil {
		return Message{}, &ProtocolError{Reason: "nonce is not a string"}
	}
	m.Args = parts[2]
	return m, nil
}

// AppendMessage appends the line for [cmd, nonce, args] and a newline. args
// must already be JSON.
func AppendMessage(dst []byte, cmd, nonce string, args json.RawMessage) []byte {
	dst = append(dst, '[')
	dst = appendJSONString(dst, cmd)
	dst = append(dst, ',')
	dst = appendJSONString(dst, nonce)
	dst = append(dst, ',')
	if len(args) == 0 {
		args = json.RawMessage("null")
	}
	dst = append(dst, args...)
	return append(dst, ']', '\n')
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// nonceString gives a request counter in base 36, as the JS reference does.
func nonceString(n uint64) string { return strconv.FormatUint(n, 36) }
