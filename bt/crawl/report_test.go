package crawl

import (
	"net/netip"
	"strings"
	"testing"
)

// DOT's quoted strings escape only the quote (\"); in a label \n is a line
// break and a backslash starts such an escape. The label's line break is
// written as DOT's \n, not Go's %q doubling of it, and a client name
// (which a peer chooses) cannot end the string, start an escape, or carry
// Go's \x and \u escapes, which DOT does not know.
func TestWriteDOTEscapesAsDOT(t *testing.T) {
	r := &Report{InfoHash: [20]byte{0xab}, Peers: []Peer{
		{Addr: netip.MustParseAddrPort("127.0.0.1:6882"), Source: SourceManual, Reached: true, Client: "pex 0.2.0-dev"},
		{Addr: netip.MustParseAddrPort("127.0.0.1:6883"), Source: SourcePEX, Client: "evil\" ]; x [label=\"\\N\x01\xff é"},
		{Addr: netip.MustParseAddrPort("[::1]:6884"), Source: SourcePEX},
	}, Edges: []Edge{{From: netip.MustParseAddrPort("127.0.0.1:6882"), To: netip.MustParseAddrPort("[::1]:6884"), Net: NetAZMP}}}
	var b strings.Builder
	if err := r.WriteDOT(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`  label="swarm ab00000000000000000000000000000000000000";`,
		`  "127.0.0.1:6882" [label="127.0.0.1:6882\npex 0.2.0-dev" shape=box style=filled];`,
		`  "127.0.0.1:6883" [label="127.0.0.1:6883\nevil\" ]; x [label=\"\\N ` + "\uFFFD" + ` é" shape=ellipse style=solid];`,
		`  "[::1]:6884" [label="[::1]:6884" shape=ellipse style=solid];`,
		`  "127.0.0.1:6882" -> "[::1]:6884" [color=orange];`,
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("DOT lacks the line\n%s\nin\n%s", want, b.String())
		}
	}
}
