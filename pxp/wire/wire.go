// Package wire is the byte layout of the Peer Exchange Protocol (PXP) of
// the npm package peer-exchange 2.2.0: the magic, the names of the streams
// and the control messages. It has no engine (package pxp is the engine)
// and no dependencies but the standard library.
//
// # Layout
//
// Each direction of a transport starts with the five bytes "#PXP#"
// (23 50 58 50 23), written at once without waiting for the peer. Then the
// multiplex framing of package mux carries named streams:
//
//	"pxp"            control messages, one JSON array and "\n" each
//	"data:<network>" the application's byte stream
//	"relay:<id>"     a raw pipe through a relay, carrying a whole nested
//	                 PXP session (magic, framing, hello, ...)
//
// # Control messages
//
// A control message is the JSON array [command, nonce, args] and a "\n".
// The nonce is a string: each side counts its requests from 0 in base 36
// (FormatNonce), hello taking "0"; a response is
// ["res", <the request's nonce>, result]. Commands and their arguments:
//
//	hello    [1, connectInfo, [networks...]]  first message each way, never answered
//	getpeers "<network>"       -> [null, [{"id","network","connectInfo"}...]] or ["<error>"]
//	relay    ["<candidate id>"] -> null once the destination accepted, or "<error>"
//	incoming ["<relay id>"]     -> null; the relay then splices the two relay streams
//	connect  "<network>"        -> null, or "<error>"; opens data:<network> both ways
//	upgrade  {"transport":"webrtc","signal":...}  signaling over a nested session, never answered
//
// Go nodes add two commands that JS nodes ignore, as they ignore any
// unknown command:
//
//	dialback <port>            -> [null, true|false] or "<error>": dial the asker back at port
//	info     connectInfo       the sender's connectInfo anew, never answered
//
// connectInfo is {"pxp":true,"relay":true,"webrtc":...} for a node that takes
// introductions and null for one that does not. Go nodes add "id", a random
// node id, so that two Go nodes never link twice ("tcp", "observed" and
// "dialback" too); JS nodes ignore them. Lines are split on "\n" or "\r\n";
// empty lines are skipped.
//
// The description with captured traffic is docs/pxp-wire.md in this
// repository (docs/pxp-capture.txt holds the frames).
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/seed0021ed4d/pex/internal/jsonscan"
)

// Magic is written by each side before anything else (docs/pxp-wire.md §2).
const Magic = "#PXP#"

// Version is the only hello version PXP defines.
const Version = 1

// Names of the streams a PXP session carries (docs/pxp-wire.md §1).
const (
	ControlStream = "pxp"    // the control messages
	DataPrefix    = "data:"  // followed by the network id: the application's stream
	RelayPrefix   = "relay:" // followed by a relay id: a pipe through a relay
)

// Commands of the control stream (docs/pxp-wire.md §4).
const (
	CmdHello    = "hello"
	CmdGetPeers = "getpeers"
	CmdRelay    = "relay"
	CmdIncoming = "incoming"
	CmdUpgrade  = "upgrade"
	CmdConnect  = "connect"
	CmdRes      = "res"
	// Go nodes' own: asks the peer to dial this node back.
	CmdDialback = "dialback"
	// Go nodes' own: tells a peer the sender's connectInfo anew.
	CmdInfo = "info"
)

// Message is one control message: the JSON array [command, nonce, args].
// Args aliases the parsed line.
type Message struct {
	Command string
	Nonce   string
	Args    json.RawMessage
}

// MessageError is a line that is not a control message. ParseMessage
// returns no other error.
type MessageError struct {
	Reason string
}

func (e *MessageError) Error() string { return "pxp/wire: invalid control message: " + e.Reason }

// ParseMessage decodes one line (without its newline). It accepts any
// command string; callers decide what to do with unknown ones.
func ParseMessage(line []byte) (Message, error) {
	if m, ok := parseUsual(line); ok {
		return m, nil
	}
	parts, err := jsonscan.DecodeArray(line, nil)
	if err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return Message{}, &MessageError{Reason: "message is not a JSON array"}
		}
		return Message{}, &MessageError{Reason: "invalid JSON: " + err.Error()}
	}
	if len(parts) != 3 {
		return Message{}, &MessageError{Reason: fmt.Sprintf("message has %d elements, want 3", len(parts))}
	}
	var m Message
	if m.Command, err = jsonscan.DecodeString(parts[0]); err != nil {
		return Message{}, &MessageError{Reason: "command is not a string"}
	}
	if m.Nonce, err = jsonscan.DecodeString(parts[1]); err != nil {
		return Message{}, &MessageError{Reason: "nonce is not a string"}
	}
	m.Args = parts[2]
	return m, nil
}

// parseUsual parses the lines nodes send, three elements of which the
// first two are strings of printable ASCII without escapes, allocating
// only the nonce; ok is false for any other line, valid or not.
func parseUsual(line []byte) (m Message, ok bool) {
	i := jsonscan.SkipSpace(line, 0)
	if i == len(line) || line[i] != '[' {
		return m, false
	}
	var parts [3][]byte
	for k := range parts {
		i = jsonscan.SkipSpace(line, i+1) // past '[' or ','
		end := jsonscan.SkipValue(line, i)
		if end < 0 {
			return m, false
		}
		parts[k], i = line[i:end], jsonscan.SkipSpace(line, end)
		if i == len(line) || line[i] != ",,]"[k] {
			return m, false
		}
	}
	if jsonscan.SkipSpace(line, i+1) != len(line) {
		return m, false
	}
	if m.Command, ok = command(parts[0]); !ok {
		return m, false
	}
	if m.Nonce, ok = jsonscan.PlainString(parts[1]); !ok {
		return m, false
	}
	m.Args = parts[2]
	return m, true
}

// commands are the commands PXP knows, most frequent first.
var commands = [...]string{CmdRes, CmdGetPeers, CmdRelay, CmdIncoming, CmdConnect, CmdHello, CmdUpgrade, CmdDialback, CmdInfo}

// command is the plain string v, without allocating for the commands PXP
// knows.
func command(v []byte) (string, bool) {
	if !jsonscan.Plain(v) {
		return "", false
	}
	name := v[1 : len(v)-1]
	for _, c := range commands {
		if string(name) == c {
			return c, true
		}
	}
	return string(name), true
}

// AppendMessage appends the line for [cmd, nonce, args] and a newline. args
// must already be JSON; empty args are sent as null.
func AppendMessage(dst []byte, cmd, nonce string, args json.RawMessage) []byte {
	if len(args) == 0 {
		args = json.RawMessage("null")
	}
	return AppendMessageEnd(append(AppendMessageHead(dst, cmd, nonce), args...))
}

// AppendMessageHead appends what comes before the args in the line for
// [cmd, nonce, args]; the caller appends the args (JSON) in place, and
// AppendMessageEnd after them.
func AppendMessageHead(dst []byte, cmd, nonce string) []byte {
	dst = append(dst, '[')
	dst = appendJSONString(dst, cmd)
	dst = append(dst, ',')
	dst = appendJSONString(dst, nonce)
	return append(dst, ',')
}

// AppendMessageEnd ends a line AppendMessageHead began.
func AppendMessageEnd(dst []byte) []byte { return append(dst, ']', '\n') }

func appendJSONString(dst []byte, s string) []byte { return jsonscan.AppendString(dst, s) }

// FormatNonce gives request counter n as a nonce: in base 36, as the JS
// reference counts.
func FormatNonce(n uint64) string { return strconv.FormatUint(n, 36) }
