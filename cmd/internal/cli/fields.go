package cli

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// CheckFields, when set, is shown every event before it is printed. Tests
// set it (see FieldChecker) to hold every event the commands print to the
// output conventions; it is nil in the commands.
var CheckFields func(name string, fields []any)

// KeptFields are the fields (EVENT:KEY, or KEY in every event) deliberately
// printed with another JSON type than the key has elsewhere, for one
// release, beside their replacement (docs/pex.md, "Output conventions"):
// the checker does not hold them to the key's type.
var KeptFields = map[string]bool{
	"pex-received:added":   true, // a list (a count in pex-sent): added_peers replaces it
	"pex-received:dropped": true, // a list (a count in pex-sent): dropped_peers replaces it
	"summary:nodes":        true, // the rows of demo's JSON summary (a count elsewhere): node_rows replaces it
	"summary:peers":        true, // the rows of bt swarm's summary (a count elsewhere): peer_rows replaces it
	"summary:pex":          true, // a count in crawl's summary (a bool elsewhere): reached_pex replaces it
	"visited:reached":      true, // a bool (a count elsewhere): answered replaces it
	// The live view's snapshot (--http's /live/events), checked as "live"
	// by the tests: its list of peers is web.Live's schema, which the
	// page reads; a count elsewhere, its stats' peers among them.
	"live:peers": true,
}

// The output conventions (docs/pex.md, "Output"):
//   - a key is lower case letters, digits and underscores;
//   - a key ending in _s (seconds) or _ms (milliseconds) is a number; one
//     in _s has at most 3 decimals (milliseconds), one in _ms at most 3
//     (microseconds);
//   - a key ending in _share is a number from 0 to 1;
//   - a number has at most 6 decimals (no float noise);
//   - a key has one JSON type across all events (but KeptFields).
var keyForm = regexp.MustCompile(`^[a-z0-9_]+$`)

// FieldChecker records the JSON type of each key it sees and reports, once
// each, the events that break the output conventions.
type FieldChecker struct {
	mu       sync.Mutex
	types    map[string]string // key -> JSON type and the event it was first seen in
	reported map[string]bool
	Problems []string
}

// NewFieldChecker returns an empty checker; set CheckFields to its Check.
func NewFieldChecker() *FieldChecker {
	return &FieldChecker{types: map[string]string{}, reported: map[string]bool{}}
}

// Check holds one event to the conventions.
func (c *FieldChecker) Check(name string, fields []any) {
	of := name // a suppressed event carries the fields of the event it sums up
	for i := 0; name == "suppressed" && i+1 < len(fields); i += 2 {
		if fields[i] == "of" {
			of, _ = fields[i+1].(string)
		}
	}
	for i := 0; i+1 < len(fields); i += 2 {
		k, ok := fields[i].(string)
		if !ok {
			c.report(name, fmt.Sprintf("key %v is not a string", fields[i]))
			continue
		}
		for _, p := range FieldProblems(k, fields[i+1]) {
			c.reportOnce(name+" "+k+" "+withoutDigits(p), name, p) // one report a kind, not a value
		}
		typ, text := jsonType(fields[i+1])
		if KeptFields[k] || KeptFields[of+":"+k] || typ == "null" {
			continue
		}
		c.mu.Lock()
		first, seen := c.types[k]
		if !seen {
			c.types[k] = typ + " in " + name
		}
		c.mu.Unlock()
		if seen && !strings.HasPrefix(first, typ+" in ") {
			c.reportOnce(name+" "+k+" "+typ, name, fmt.Sprintf("%s is a %s (%s), but a %s", k, typ, text, first))
		}
	}
}

func (c *FieldChecker) report(name, problem string) { c.reportOnce(name+": "+problem, name, problem) }

func withoutDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
}

// reportOnce reports a problem the first time its key is seen.
func (c *FieldChecker) reportOnce(key, name, problem string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reported[key] {
		c.reported[key] = true
		c.Problems = append(c.Problems, name+": "+problem)
	}
}

// FieldProblems are the conventions one field breaks by itself: its key's
// form, its unit's type, its decimals.
func FieldProblems(k string, v any) []string {
	var out []string
	if !keyForm.MatchString(k) {
		out = append(out, fmt.Sprintf("key %q is not lower case letters, digits and underscores", k))
	}
	typ, text := jsonType(v)
	unit := strings.HasSuffix(k, "_s") || strings.HasSuffix(k, "_ms") || strings.HasSuffix(k, "_share")
	if unit && typ != "number" && typ != "null" {
		out = append(out, fmt.Sprintf("%s=%s is a %s, not a number", k, text, typ))
	}
	if typ == "number" {
		dec := 0
		if _, frac, ok := strings.Cut(text, "."); ok {
			dec = len(strings.TrimRightFunc(frac, func(r rune) bool { return r < '0' || r > '9' }))
		}
		switch {
		case strings.ContainsAny(text, "eE"):
			out = append(out, fmt.Sprintf("%s=%s has an exponent", k, text))
		case (strings.HasSuffix(k, "_s") || strings.HasSuffix(k, "_ms")) && dec > 3:
			out = append(out, fmt.Sprintf("%s=%s has more than 3 decimals", k, text))
		case dec > 6:
			out = append(out, fmt.Sprintf("%s=%s has more than 6 decimals", k, text))
		}
	}
	if typ == "object" || typ == "array" { // the keys of objects, within
		var x any
		if json.Unmarshal([]byte(text), &x) == nil {
			walkKeys(x, func(k string) {
				if !keyForm.MatchString(k) && !strings.Contains(k, ":") && !strings.Contains(k, ".") {
					out = append(out, fmt.Sprintf("key %q is not lower case letters, digits and underscores", k))
				}
			})
		}
	}
	return out
}

// walkKeys calls f with the keys of every object within x that names
// fields (maps whose keys are data, addresses or ids, are let be by the
// caller).
func walkKeys(x any, f func(string)) {
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			f(k)
			walkKeys(v, f)
		}
	case []any:
		for _, v := range x {
			walkKeys(v, f)
		}
	}
}

// jsonType is v's JSON type (string, number, bool, array, object, null)
// and its JSON text.
func jsonType(v any) (typ, text string) {
	b, err := json.Marshal(v)
	if err != nil {
		return "unmarshalable", fmt.Sprint(v)
	}
	text = string(b)
	if len(text) > 80 {
		text = text[:80] + "…"
	}
	switch b[0] {
	case '"':
		return "string", text
	case '[':
		return "array", text
	case '{':
		return "object", text
	case 't', 'f':
		return "bool", text
	case 'n':
		return "null", text
	}
	return "number", text
}
