package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// printer writes events, as JSON lines with --json or as plain text.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool

	repeats map[string]*repeat // events of one kind from one source, by key
}

// repeat counts the events of one key in the current window.
type repeat struct {
	name       string
	fields     []any // of the first one, for the summary
	start      time.Time
	printed    int
	suppressed int
}

// Log flood bounds: an attacker repeating a refusal cannot fill a disk or
// drown the log. The first repeatMax events of one kind from one source
// in repeatWindow are printed, the rest counted and summed up in one
// "suppressed" event.
const (
	repeatWindow  = 10 * time.Second
	repeatMax     = 5
	maxRepeatKeys = 1024
)

// limited prints an event unless key has had repeatMax of them in this
// window; see flush for the summary.
func (p *printer) limited(key, name string, fields ...any) {
	p.mu.Lock()
	now := time.Now()
	if p.repeats == nil {
		p.repeats = map[string]*repeat{}
	}
	r := p.repeats[key]
	if r == nil && len(p.repeats) >= maxRepeatKeys {
		key = "(many sources)"
		r = p.repeats[key]
	}
	if r != nil && now.Sub(r.start) >= repeatWindow {
		p.summaryLocked(key, r)
		r = nil
	}
	if r == nil {
		r = &repeat{name: name, fields: fields, start: now}
		p.repeats[key] = r
	}
	if r.printed >= repeatMax {
		r.suppressed++
		p.mu.Unlock()
		return
	}
	r.printed++
	p.mu.Unlock()
	p.event(name, fields...)
}

// flush prints the summaries of windows that have ended (or all, at the
// end of a run).
func (p *printer) flush(all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for key, r := range p.repeats {
		if all || now.Sub(r.start) >= repeatWindow {
			p.summaryLocked(key, r)
		}
	}
}

// summaryLocked prints how many events of key were left out, and forgets
// the key.
func (p *printer) summaryLocked(key string, r *repeat) {
	delete(p.repeats, key)
	if r.suppressed == 0 {
		return
	}
	fields := append([]any{"of", r.name, "count", r.suppressed, "seconds", int(repeatWindow.Seconds())}, r.fields...)
	p.mu.Unlock()
	p.event("suppressed", fields...)
	p.mu.Lock()
}

// event prints one event. fields alternate key and value.
func (p *printer) event(name string, fields ...any) {
	m := map[string]any{"event": name}
	for i := 0; i+1 < len(fields); i += 2 {
		m[fields[i].(string)] = fields[i+1]
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, err := json.Marshal(m)
		if err != nil {
			b, _ = json.Marshal(map[string]any{"event": "error", "error": err.Error()})
		}
		p.w.Write(append(b, '\n'))
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "event" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString(name)
	for _, k := range keys {
		fmt.Fprintf(&sb, " %s=%v", k, m[k])
	}
	sb.WriteByte('\n')
	io.WriteString(p.w, sb.String())
}

// text prints a line only in plain mode.
func (p *printer) text(format string, args ...any) {
	if p.json {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// errorKind is an error's text without its numbers (nonces, ports, ids,
// sizes), so that repeats of one failure share a key.
func errorKind(err error) string {
	s := err.Error()
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, s)
}

// hostOf is the host of a HOST:PORT address, or the address itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
