package pxp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// lineReader splits the control stream into lines of at most max bytes,
// accepting "\n" and "\r\n" and skipping empty lines, like ndjson.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	// A buffer no larger than max+1 makes ReadSlice return (full) before a
	// peer can hold back an over-long line without its newline.
	return &lineReader{br: bufio.NewReaderSize(r, min(4096, max+1)), max: max}
}

// ErrLineTooLong is wrapped by the error for a control line over the limit.
var ErrLineTooLong = errors.New("pxp: control message too long")

func (l *lineReader) next() ([]byte, error) {
	for {
		l.line = l.line[:0]
		for {
			frag, err := l.br.ReadSlice('\n')
			if len(l.line)+len(frag) > l.max+2 {
				return nil, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, l.max)
			}
			l.line = append(l.line, frag...)
			if err == nil {
				break
			}
			if err == bufio.ErrBufferFull {
				if len(l.line) > l.max {
					return nil, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, l.max)
				}
				continue
			}
			if err == io.EOF && len(l.line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(l.line, []byte{'\n'}), []byte{'\r'})
		if len(line) > l.max {
			return nil, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, l.max)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return line, nil
	}
}
