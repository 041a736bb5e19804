package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// Lines captured between JS nodes (docs/pxp-capture.txt) and some that
// break the rules.
var seedLines = []string{
	`["hello","0",[1,{"pxp":true,"relay":true,"webrtc":true},["pxp-mesh"]]]`,
	`["connect","1","pxp-mesh"]`,
	`["res","1",null]`,
	`["getpeers","2","pxp-mesh"]`,
	`["res","2",[null,[{"id":"cd20f192","network":"pxp-mesh","connectInfo":{"pxp":true,"relay":true,"webrtc":true}}]]]`,
	`["relay","3",["cd20f192"]]`,
	`["incoming","1",["dc91ede8"]]`,
	`["upgrade","1",{"transport":"webrtc","signal":{"type":"offer","sdp":"v=0\r\n"}}]`,
	`["res","3","Peer requested unknown candidate: id=x"]`,
	`{"a":1}`, `[1,2]`, `[`, `["x","y",{}]`,
}

func FuzzParseMessage(f *testing.F) {
	for _, l := range seedLines {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseMessage(line)
		// The same answer as encoding/json's, which it parsed with before.
		want, werr := parseWithEncodingJSON(line)
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() ||
			m.Command != want.Command || m.Nonce != want.Nonce || string(m.Args) != string(want.Args) {
			t.Fatalf("ParseMessage(%q) = %+v, %v; encoding/json: %+v, %v", line, m, err, want, werr)
		}
		if err != nil {
			var me *MessageError
			if !errors.As(err, &me) {
				t.Fatalf("ParseMessage(%q): %T, want *MessageError", line, err)
			}
			return
		}
		// A parsed message re-encodes to a line that parses the same.
		out := AppendMessage(nil, m.Command, m.Nonce, m.Args)
		m2, err := ParseMessage(out[:len(out)-1])
		if err != nil || m2.Command != m.Command || m2.Nonce != m.Nonce || !json.Valid(m2.Args) {
			t.Fatalf("round trip of %q: %v", line, err)
		}
	})
}

// parseWithEncodingJSON is ParseMessage as it was written on
// encoding/json alone.
func parseWithEncodingJSON(line []byte) (Message, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(line, &parts); err != nil {
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
	if err := json.Unmarshal(parts[0], &m.Command); err != nil {
		return Message{}, &MessageError{Reason: "command is not a string"}
	}
	if err := json.Unmarshal(parts[1], &m.Nonce); err != nil {
		return Message{}, &MessageError{Reason: "nonce is not a string"}
	}
	m.Args = parts[2]
	return m, nil
}

// Parsing a usual line allocates its nonce, no more: the command is a
// constant and the arguments alias the line.
func TestParseMessageAllocs(t *testing.T) {
	line := []byte(seedLines[4])
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseMessage(line); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("%.0f allocations a line, want at most 1", allocs)
	}
}

// The bytes of the capture: the hello a JS node sends, and the connect and
// its answer.
func TestCapturedLines(t *testing.T) {
	hello := AppendMessage(nil, CmdHello, FormatNonce(0), json.RawMessage(`[1,{"pxp":true,"relay":true,"webrtc":true},["pxp-mesh"]]`))
	if got, want := string(hello), seedLines[0]+"\n"; got != want {
		t.Fatalf("hello: %q, want %q", got, want)
	}
	if got := string(AppendMessage(nil, CmdRes, FormatNonce(1), nil)); got != seedLines[2]+"\n" {
		t.Fatalf("res: %q", got)
	}
	m, err := ParseMessage([]byte(seedLines[1]))
	if err != nil || m.Command != CmdConnect || m.Nonce != "1" || string(m.Args) != `"pxp-mesh"` {
		t.Fatalf("connect: %+v, %v", m, err)
	}
	if FormatNonce(35) != "z" || FormatNonce(36) != "10" {
		t.Fatal("nonces are not base 36")
	}
	for _, bad := range []string{`{"a":1}`, `[1,2]`, `[`, `[1,"0",null]`, `["x",0,null]`} {
		if _, err := ParseMessage([]byte(bad)); err == nil {
			t.Errorf("ParseMessage(%s) took it", bad)
		}
	}
}
