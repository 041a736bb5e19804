package cli

import (
	"strings"
	"testing"
)

// Text output is logfmt: the event name, node first, then the fields in
// the order given, values quoted when they need it.
func TestLogfmt(t *testing.T) {
	var sb strings.Builder
	p := NewPrinter(&sb, false)
	p.Event("x", "a", "has space", "node", "n1", "b", "", "c", `q"uote`, "d", []string{"1.2.3.4:5", "6.7.8.9:10"}, "e", 1.5, "f", "k=v", "g", true, "h", "tab\there")
	want := `x node=n1 a="has space" b="" c="q\"uote" d=1.2.3.4:5,6.7.8.9:10 e=1.5 f="k=v" g=true h="tab\there"` + "\n"
	if sb.String() != want {
		t.Fatalf("got  %s want %s", sb.String(), want)
	}
	// Nothing is printed after close.
	p.Close()
	p.Event("late")
	p.Text("late")
	if strings.Contains(sb.String(), "late") {
		t.Fatal("printed after close")
	}
}
