package pxp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/netip"
	"testing"

	"github.com/seed0021ed4d/pex/pxp/wire"
)

var codecSeeds = []string{
	`{"pxp":true,"relay":true,"webrtc":true}`, `null`, `{}`, `[]`, `"x"`, `{"pxp":1e400}`, `{"pxp":-0.0}`,
	`{"pxp":"","webrtc":"0","dialback":[]}`, `{"pxp":true,"pxp":false}`, `{"p\u0078p":true}`, `{"PXP":true}`,
	`{"pxp":true,"id":"a1","tcp":"10.0.0.1:7000","observed":"[::ffff:10.0.0.2]:7000","dialback":true}`,
	`{"tcp":"a","tcp":5}`, `{"id":"\u00e9"}`, `{ "pxp" : { } , "x" : [ 1 , 2 ] }`,
	`[{"id":"a1b2","network":"n","connectInfo":{"pxp":true}},null]`, `[{"ID":"x","network":"n"}]`,
	`[{"id":5}]`, `[1]`, `[{"id":"a","network":"n","connectInfo":{"x":"<&>"}}]`, `[{"id":"a","id":null}]`,
	`[{"id":"ab","id":"cd"},null,{"id":"ef"}]`, `[{"id":"a\u0062","id":"cd"},{"id":"x","id":"y\u007a"}]`,
}

// jsConnectInfo is parseConnectInfo's rule written on encoding/json: the
// object's members as JSON.parse keeps them, JavaScript's truthiness.
func jsConnectInfo(raw []byte) connectInfo {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return connectInfo{}
	}
	flag := func(k string) bool {
		var v any
		if json.Unmarshal(m[k], &v) != nil {
			return m[k] != nil // a number past float64 is Infinity, and true
		}
		return truthyAny(v)
	}
	str := func(k string, n int) string {
		var s string
		if json.Unmarshal(m[k], &s) != nil || len(s) > n {
			return ""
		}
		return s
	}
	ci := connectInfo{accepting: flag("pxp"), webrtc: flag("webrtc"), dialback: flag("dialback"), tcp: str("tcp", 256), id: str("id", 64)}
	if ap, err := netip.ParseAddrPort(str("observed", 64)); err == nil {
		ci.observed = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ci
}

// truthyAny is JavaScript's truthiness for a value encoding/json decoded
// into an any.
func truthyAny(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	}
	return true
}

// A peer's connectInfo is read as JavaScript reads it, and forwarded
// without "observed" as the bytes encoding/json gave before.
func FuzzConnectInfo(f *testing.F) {
	for _, s := range codecSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"dialback":true,"id":"0123","observed":"10.0.0.1:7000","pxp":true,"relay":true,"webrtc":false}`))
	f.Add([]byte(`{"observed":"10.0.0.1:7000"}`))
	f.Add([]byte(`{"pxp":true,"observed":"x","id":"y"}`))
	f.Add([]byte(`{"a":"<","observed":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := parseConnectInfo(raw), jsConnectInfo(raw); got != want {
			t.Fatalf("parseConnectInfo(%q) = %+v, want %+v", raw, got, want)
		}
		// Forwarded without "observed": the bytes it was before.
		if got, want := withoutObserved(raw), withoutObservedWithEncodingJSON(raw); !bytes.Equal(got, want) {
			t.Fatalf("withoutObserved(%q) = %q, want %q", raw, got, want)
		}
	})
}

// jsCandidates is decodeCandidates's rule written on encoding/json.
func jsCandidates(raw []byte) ([]Candidate, bool) {
	var elems []map[string]json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return nil, false
	}
	out := make([]Candidate, len(elems))
	for i, m := range elems {
		if m == nil {
			continue
		}
		if json.Unmarshal(orNull(m["id"]), &out[i].ID) != nil || json.Unmarshal(orNull(m["network"]), &out[i].Network) != nil {
			return nil, false
		}
		out[i].ConnectInfo = m["connectInfo"]
	}
	return out, true
}

func orNull(b json.RawMessage) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	return b
}

// A getpeers answer is read as JavaScript reads it, and written as
// json.Marshal writes it.
func FuzzCandidates(f *testing.F) {
	for _, s := range codecSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := decodeCandidates(raw, "n")
		want, wok := jsCandidates(raw)
		if ok != wok || len(got) != len(want) {
			t.Fatalf("decodeCandidates(%q) = %q, %v; want %q, %v", raw, got, ok, want, wok)
		}
		for i := range got {
			if got[i].ID != want[i].ID || got[i].Network != want[i].Network || !bytes.Equal(got[i].ConnectInfo, want[i].ConnectInfo) {
				t.Fatalf("decodeCandidates(%q)[%d] = %q, want %q", raw, i, got[i], want[i])
			}
		}
		// Written back, the answer is the bytes json.Marshal writes, or
		// it is left to Marshal.
		wb, err := json.Marshal([]any{nil, got})
		if err != nil {
			t.Fatal(err)
		}
		gb, cok := appendCandidates(nil, got)
		if cok && !bytes.Equal(gb, wb) {
			t.Fatalf("appendCandidates(%q) = %s, json.Marshal %s", got, gb, wb)
		}
		// The whole line, appended in place after what the buffer held:
		// the line respond would send, or nothing.
		prefix := []byte("held")
		line, lok := appendAnswerLine(prefix, "1z", got, false)
		if cok {
			// Told they are compact, it writes the same without looking.
			if told, _ := appendAnswerLine([]byte("held"), "1z", got, true); !bytes.Equal(told, line) {
				t.Fatalf("appendAnswerLine(%q) told compact = %q, looking %q", got, told, line)
			}
		}
		switch {
		case lok != cok:
			t.Fatalf("appendAnswerLine(%q) ok %v, appendCandidates ok %v", got, lok, cok)
		case !lok && !bytes.Equal(line, prefix):
			t.Fatalf("appendAnswerLine(%q) not ok left %q", got, line)
		case lok && !bytes.Equal(line, append([]byte("held"), wire.AppendMessage(nil, wire.CmdRes, "1z", wb)...)):
			t.Fatalf("appendAnswerLine(%q) = %q, want held and %q", got, line, wire.AppendMessage(nil, wire.CmdRes, "1z", wb))
		}
	})
}

// The rules that differ from encoding/json's struct decoding, as the
// reference reads an answer: keys match exactly, the last of a key given
// twice counts; and a flag too large for a float64 is Infinity, true.
func TestConnectInfoReadAsJavaScript(t *testing.T) {
	if c, ok := decodeCandidates([]byte(`[{"ID":"x","network":"n"},{"id":"a","id":"b","network":"n"}]`), "n"); !ok || c[0].ID != "" || c[1].ID != "b" {
		t.Fatalf("candidates %q, %v", c, ok)
	}
	for raw, want := range map[string]bool{
		`{"pxp":1e400}`: true, `{"pxp":-0.0e5}`: false, `{"pxp":"0"}`: true, `{"pxp":""}`: false, `{"pxp":{}}`: true,
		`{"pxp":true,"pxp":null}`: false, `{"PXP":true}`: false, `{"p\u0078p":1}`: true, `[{"pxp":true}]`: false,
	} {
		if got := parseConnectInfo([]byte(raw)).accepting; got != want {
			t.Errorf("%s: accepting %v, want %v", raw, got, want)
		}
	}
}

// A hello's connectInfo, with and without "observed", and the hello
// around it are the bytes json.Marshal writes, as before the template.
func TestHelloInfoAsMarshal(t *testing.T) {
	for _, fields := range []map[string]any{
		{"pxp": true, "relay": true, "webrtc": false, "id": "0123abcd", "dialback": true},
		{"pxp": true, "relay": true, "webrtc": true, "id": "0123abcd", "dialback": true, "tcp": "[2001:db8::1]:7000"},
		{"pxp": true},
		{"id": "<&>"},
		{},
	} {
		tmpl := newHelloInfoTmpl(fields)
		want, _ := json.Marshal(fields)
		if string(tmpl.whole) != string(want) {
			t.Errorf("%v: %s, want %s", fields, tmpl.whole, want)
		}
		for _, obs := range []string{"10.0.0.1:7000", "[2001:db8::2]:7001"} {
			with := maps.Clone(fields)
			with["observed"] = obs
			want, _ := json.Marshal(with)
			if got := tmpl.with(obs); string(got) != string(want) {
				t.Errorf("%v with observed: %s, want %s", fields, got, want)
			}
			hello, _ := json.Marshal([]any{1, json.RawMessage(want), []string{"net<1>"}})
			if got := appendHello(nil, want, "net<1>"); string(got) != string(hello) {
				t.Errorf("hello %s, want %s", got, hello)
			}
		}
	}
}

// withoutObservedWithEncodingJSON is withoutObserved as it was written on
// encoding/json alone.
func withoutObservedWithEncodingJSON(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return raw
	}
	if _, ok := m["observed"]; !ok {
		return raw
	}
	delete(m, "observed")
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

// A getpeers answer's ids come from one run of random hex: 8 characters
// each, all hex, none repeated within a run (900 pairs of 32-bit ids
// over the three runs: a repeat would come once in some 4.8 million
// runs of this test).
func TestRandomHexRun(t *testing.T) {
	for _, k := range []int{0, 1, 16, 40} {
		run := randomHexRun(4, k)
		if len(run) != 8*k {
			t.Fatalf("randomHexRun(4, %d) is %d characters, want %d", k, len(run), 8*k)
		}
		seen := map[string]bool{}
		for i := range k {
			id := run[8*i : 8*i+8]
			if _, err := hex.DecodeString(id); err != nil || seen[id] {
				t.Fatalf("id %d of %d, %q: not hex (%v) or repeated", i, k, id, err)
			}
			seen[id] = true
		}
	}
}
