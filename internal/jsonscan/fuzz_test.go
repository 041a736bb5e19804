package jsonscan

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"strings"
	"testing"
)

var seeds = []string{
	`["hello","0",[1,{"pxp":true,"relay":true,"webrtc":false},["net"]]]`,
	`[null,[{"id":"a1b2c3d4","network":"net","connectInfo":{"pxp":true,"tcp":"10.0.0.1:7000"}}]]`,
	` [ "res" , "1a" , null ] `, `["res","1",["peer is full"]]`, `[]`, `{}`, `null`, `true`, `false`,
	`"a\"b"`, `"\u00e9t\u00e9"`, "\"caf\xc3\xa9\"", "\"\xff\"", `"<&>"`, `"\ud800"`,
	`-0`, `0.5e+3`, `1e400`, `1e-400`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
	`{"a":1,"a":2}`, `{"A":1,"a":{"b":[]}}`, `{"p\u0078p":1}`, `{"pxp" : "" , "x":[1,2,{}]}`,
	`[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{1:2}`, `[1 2]`, `"\x"`, "\"\t\"", `[`, `]`, `nul`, `truex`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":0}`,
	strings.Repeat("[", 300) + strings.Repeat("]", 300), strings.Repeat(`{"a":`, 260) + "1" + strings.Repeat("}", 260),
}

// depth is how deep b's brackets nest, counting those inside strings.
func depth(b []byte) int {
	d, most := 0, 0
	for _, c := range b {
		switch c {
		case '[', '{':
			d++
			most = max(most, d)
		case ']', '}':
			d--
		}
	}
	return most
}

// Every decoder and AppendString give what encoding/json gives.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// SkipValue takes exactly what encoding/json takes, up to
		// MaxFastDepth.
		i := SkipSpace(b, 0)
		e := SkipValue(b, i)
		ok := e >= 0 && SkipSpace(b, e) == len(b)
		valid := json.Valid(b)
		if ok && !valid {
			t.Fatalf("%q: taken, but encoding/json refuses it", b)
		}
		if valid && !ok && depth(b) <= MaxFastDepth {
			t.Fatalf("%q: refused, but encoding/json takes it", b)
		}
		// arrays
		var want []json.RawMessage
		werr := json.Unmarshal(b, &want)
		got, err := DecodeArray(b, nil)
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("DecodeArray(%q): error %v, encoding/json %v", b, err, werr)
		}
		if err == nil && !equalRaw(got, want) {
			t.Fatalf("DecodeArray(%q) = %q, encoding/json %q", b, got, want)
		}
		// strings
		var ws string
		werr = json.Unmarshal(b, &ws)
		s, err := DecodeString(b)
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() || s != ws {
			t.Fatalf("DecodeString(%q) = %q, %v; encoding/json %q, %v", b, s, err, ws, werr)
		}
		// numbers
		var wf float64
		werr = json.Unmarshal(b, &wf)
		fl, err := DecodeFloat(b)
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() || fl != wf && !(math.IsNaN(fl) && math.IsNaN(wf)) {
			t.Fatalf("DecodeFloat(%q) = %v, %v; encoding/json %v, %v", b, fl, err, wf, werr)
		}
		// objects
		var wm map[string]json.RawMessage
		wok := json.Unmarshal(b, &wm) == nil && wm != nil
		gm := map[string]json.RawMessage{}
		ok = DecodeObject(b, func(k, v []byte) { gm[string(k)] = append(json.RawMessage(nil), v...) })
		if ok != wok || ok && !maps.EqualFunc(gm, wm, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
			t.Fatalf("DecodeObject(%q) = %v %q; encoding/json %v %q", b, ok, gm, wok, wm)
		}
		// strings written
		wb, _ := json.Marshal(string(b))
		if gb := AppendString([]byte("x"), string(b)); string(gb) != "x"+string(wb) {
			t.Fatalf("AppendString(%q) = %q, encoding/json %q", b, gb[1:], wb)
		}
	})
}

func equalRaw(a, b []json.RawMessage) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
