package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fixed is the clock of the tests that compare whole lines.
func fixed() time.Time {
	return time.Date(2026, 12, 7, 1, 53, 42, 123456789, time.FixedZone("x", 3600))
}

// Text output is logfmt: the event name, node first, then the fields in
// the order given, values quoted when they need it.
func TestLogfmt(t *testing.T) {
	var sb strings.Builder
	p := NewPrinter(&sb, false).SetClock(fixed)
	p.Event("x", "a", "has space", "node", "n1", "b", "", "c", `q"uote`, "d", []string{"1.2.3.4:5", "6.7.8.9:10"}, "e", 1.5, "f", "k=v", "g", true, "h", "tab\there")
	want := `x node=n1 a="has space" b="" c="q\"uote" d=1.2.3.4:5,6.7.8.9:10 e=1.5 f="k=v" g=true h="tab\there" time=2026-12-07T00:53:42.123Z` + "\n"
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

// Every event has a time, RFC 3339 in UTC with milliseconds: last in a
// logfmt line, a field in JSON.
func TestEventTime(t *testing.T) {
	var sb strings.Builder
	NewPrinter(&sb, true).SetClock(fixed).Event("x", "node", "n1", "a", 1)
	var m map[string]any
	if err := json.Unmarshal([]byte(sb.String()), &m); err != nil || m["time"] != "2026-12-07T00:53:42.123Z" || m["event"] != "x" || m["node"] != "n1" {
		t.Fatalf("%s: %v", sb.String(), err)
	}
	sb.Reset()
	p := NewPrinter(&sb, false)
	before := time.Now().UTC().Truncate(time.Millisecond)
	p.Event("y", "a", 1)
	line := strings.TrimSuffix(sb.String(), "\n")
	_, stamp, ok := strings.Cut(line, "y a=1 time=")
	at, err := time.Parse(TimeFormat, stamp)
	if !ok || err != nil || !strings.HasSuffix(stamp, "Z") || len(stamp) != len("2026-12-07T00:53:42.123Z") || at.Before(before) || time.Since(at) > time.Minute {
		t.Fatalf("%q: %v", line, err)
	}
}

// The field checker finds what breaks the output conventions: a key
// with a space or in capitals, a duration that is not a number, float
// noise, seconds finer than milliseconds, one key with two types (but
// for the old fields kept for one release, KeptFields).
func TestFieldChecker(t *testing.T) {
	c := NewFieldChecker()
	c.Check("pex-sent", []any{"added", 3, "peers", 2, "elapsed_s", 1.5, "ms", 0.125, "known_mean", 0.519, "live", map[string]any{"getpeers_served": 1, "127.0.0.1:5": 2}})
	c.Check("pex-received", []any{"added", []string{"x"}, "peers", 4, "nodes", []string{}, "list", nil})
	if len(c.Problems) != 0 {
		t.Fatalf("problems in good events: %q", c.Problems)
	}
	c.Check("c", []any{"getpeers served", 1, "Peers", 1, "retry_s", "1s", "elapsed_s", 3.994022584, "known_mean", 0.5193749999999999, "peers", "4", "live", map[string]any{"getpeers served": 1}})
	want := []string{
		`c: key "getpeers served" is not`,
		`c: key "Peers" is not`,
		`c: retry_s="1s" is a string, not a number`,
		`c: elapsed_s=3.994022584 has more than 3 decimals`,
		`c: known_mean=0.5193749999999999 has more than 6 decimals`,
		`c: peers is a string ("4"), but a number in pex-sent`,
		`c: key "getpeers served" is not`,
	}
	c.Check("c", []any{"elapsed_s", 1.0001, "peers", "5"}) // the same problems again: not reported twice
	if len(c.Problems) != len(want) {
		t.Fatalf("problems: %q", c.Problems)
	}
	for i, p := range c.Problems {
		if !strings.HasPrefix(p, want[i]) {
			t.Errorf("problem %d: %q, want %q…", i, p, want[i])
		}
	}
}

// A suppressed event carries the fields of the event it sums up: a field
// kept for one release there is let be here too.
func TestFieldCheckerSuppressed(t *testing.T) {
	c := NewFieldChecker()
	c.Check("summary", []any{"reached", 2})
	c.Check("visited", []any{"reached", false, "answered", false})
	c.Check("suppressed", []any{"of", "visited", "count", 3, "window_s", 10, "reached", false, "answered", false})
	c.Check("suppressed", []any{"of", "other", "count", 3, "window_s", 10, "reached", false})
	if len(c.Problems) != 1 || !strings.HasPrefix(c.Problems[0], "suppressed: reached is a bool") {
		t.Fatalf("problems: %q", c.Problems)
	}
}

// Once prints the first event of a key and only counts the rest: each
// window with repeats ends with one suppressed event, and the key is
// never printed again.
func TestPrinterOnce(t *testing.T) {
	var sb strings.Builder
	p := NewPrinter(&sb, true)
	for range 1000 {
		p.Once("10.0.0.1 two", "network-mismatch", "side", "incoming", "remote", "10.0.0.1:1")
	}
	p.Once("10.0.0.2 two", "network-mismatch", "side", "incoming", "remote", "10.0.0.2:1")
	p.Flush(false) // no window has ended: nothing to sum up yet
	if n := strings.Count(sb.String(), "\n"); n != 2 {
		t.Fatalf("%d lines before the flush, want the 2 first events:\n%s", n, sb.String())
	}
	p.Flush(true)
	p.Once("10.0.0.1 two", "network-mismatch", "side", "incoming", "remote", "10.0.0.1:2")
	p.Flush(true)
	p.Flush(true) // nothing new: nothing printed
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(sb.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(m["event"], " ", m["remote"], " ", m["count"]))
	}
	want := []string{
		"network-mismatch 10.0.0.1:1 <nil>",
		"network-mismatch 10.0.0.2:1 <nil>",
		"suppressed 10.0.0.1:1 999",
		"suppressed 10.0.0.1:1 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
