package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// printer writes events, as JSON lines with --json or as plain text.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
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
