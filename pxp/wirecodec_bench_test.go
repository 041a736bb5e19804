package pxp

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	pxpwire "github.com/seed0021ed4d/pex/pxp/wire"
)

// benchAnswer is a relay's answer of 16 candidates, as Go nodes write it.
func benchAnswer() []Candidate {
	out := make([]Candidate, 16)
	for i := range out {
		ci := fmt.Sprintf(`{"dialback":true,"id":"%016x","pxp":true,"relay":true,"tcp":"10.0.%d.%d:7000","webrtc":false}`, i*7919, i, i+1)
		out[i] = Candidate{ID: randomHex(4), Network: "pxp-bench", ConnectInfo: json.RawMessage(ci)}
	}
	return out
}

// BenchmarkGetPeersAnswer writes and reads a getpeers answer of 16
// candidates and reads one connectInfo, each against encoding/json doing
// the same (as pxp did before package jsonscan).
func BenchmarkGetPeersAnswer(b *testing.B) {
	cands := benchAnswer()
	wire, _ := json.Marshal([]any{nil, cands})
	var parts []json.RawMessage
	json.Unmarshal(wire, &parts)
	list := parts[1]
	info := []byte(`{"dialback":true,"id":"00000000deadbeef","observed":"10.0.0.9:7000","pxp":true,"relay":true,"tcp":"10.0.0.1:7000","webrtc":false}`)

	b.Run("write/jsonscan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := appendCandidates(make([]byte, 0, 64+100*len(cands)), cands); !ok {
				b.Fatal("not compact")
			}
		}
	})
	// The whole line, as onGetPeers sends it: built in a pooled buffer,
	// against the answer built apart and copied into a new line (as it
	// was before).
	b.Run("line/pooled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bp := linePool.Get().(*[]byte)
			line, ok := appendAnswerLine((*bp)[:0], "1z", cands, true)
			if !ok {
				b.Fatal("not compact")
			}
			*bp = line
			linePool.Put(bp)
		}
	})
	b.Run("line/copied", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			answer, ok := appendCandidates(nil, cands)
			if !ok {
				b.Fatal("not compact")
			}
			_ = pxpwire.AppendMessage(make([]byte, 0, 64+len(answer)), pxpwire.CmdRes, "1z", answer)
		}
	})
	b.Run("write/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal([]any{nil, cands})
		}
	})
	b.Run("read/jsonscan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if c, ok := decodeCandidates(list, "pxp-bench"); !ok || len(c) != 16 {
				b.Fatal("bad answer")
			}
		}
	})
	b.Run("read/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c []Candidate
			if json.Unmarshal(list, &c) != nil || len(c) != 16 {
				b.Fatal("bad answer")
			}
		}
	})
	b.Run("connectinfo/jsonscan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !parseConnectInfo(info).accepting {
				b.Fatal("not accepting")
			}
		}
	})
	b.Run("connectinfo/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !connectInfoWithEncodingJSON(info).accepting {
				b.Fatal("not accepting")
			}
		}
	})
}

// connectInfoWithEncodingJSON is parseConnectInfo as pxp wrote it before
// package jsonscan: the object decoded into a map[string]any.
func connectInfoWithEncodingJSON(raw json.RawMessage) connectInfo {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return connectInfo{}
	}
	truthy := truthyAny
	var ci connectInfo
	ci.accepting = truthy(m["pxp"])
	ci.webrtc = truthy(m["webrtc"])
	if a, ok := m["tcp"].(string); ok && len(a) <= 256 {
		ci.tcp = a
	}
	if id, ok := m["id"].(string); ok && len(id) <= 64 {
		ci.id = id
	}
	if o, ok := m["observed"].(string); ok && len(o) <= 64 {
		if ap, err := netip.ParseAddrPort(o); err == nil {
			ci.observed = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
	}
	ci.dialback = truthy(m["dialback"])
	return ci
}

// BenchmarkCandidateIDs draws the ids of a getpeers answer of 16
// candidates: at once, against one draw each (as pxp did before).
func BenchmarkCandidateIDs(b *testing.B) {
	b.Run("at-once", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = randomHexRun(4, 16)
		}
	})
	b.Run("one-each", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for range 16 {
				_ = randomHex(4)
			}
		}
	})
}
