package wire

import (
	"encoding/json"
	"errors"
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
