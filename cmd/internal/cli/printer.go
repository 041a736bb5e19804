package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Printer writes events, as JSON lines with --json or as plain text.
// Its methods are safe for concurrent use.
type Printer struct {
	mu    sync.Mutex
	w     io.Writer
	json  bool
	quiet bool // events only: Text prints nothing

	repeats map[string]*repeat              // events of one kind from one source, by key
	once    map[string]*repeat              // Once's keys, kept for the printer's life
	closed  bool                            // nothing more is printed
	tap     func(name string, fields []any) // also told every event printed (the live view's log)
	now     func() time.Time                // the clock events are stamped with; nil: Clock
}

// Clock stamps the events of Printers without their own clock (SetClock);
// tests may fix it.
var Clock = time.Now

// SetClock makes p stamp its events with now's time (tests fix the
// clock with it). It returns p.
func (p *Printer) SetClock(now func() time.Time) *Printer {
	p.mu.Lock()
	p.now = now
	p.mu.Unlock()
	return p
}

// TimeFormat is the form of every event's time field: RFC 3339 in UTC
// with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// stamp is the time field of an event printed now.
func (p *Printer) stamp() string {
	p.mu.Lock()
	now := p.now
	p.mu.Unlock()
	if now == nil {
		now = Clock
	}
	return now().UTC().Format(TimeFormat)
}

// NewPrinter prints to w: JSON lines when json is set, logfmt otherwise.
func NewPrinter(w io.Writer, json bool) *Printer { return &Printer{w: w, json: json} }

// Quiet makes p print events only: the prose and tables of Text are
// dropped (--quiet). It returns p.
func (p *Printer) Quiet(q bool) *Printer {
	p.mu.Lock()
	p.quiet = q
	p.mu.Unlock()
	return p
}

// QuietUsage is the usage of every command's --quiet.
const QuietUsage = "print events only: no progress lines, tables or prose"

// JSON reports whether p prints JSON lines.
func (p *Printer) JSON() bool { return p.json }

// SetTap makes f see every event printed from now on.
func (p *Printer) SetTap(f func(name string, fields []any)) {
	p.mu.Lock()
	p.tap = f
	p.mu.Unlock()
}

// Close stops the Printer: later events and lines are dropped, so that
// what a run prints while it shuts down cannot follow its summary.
func (p *Printer) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
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
// drown the log. The first RepeatMax events of one kind from one source
// in RepeatWindow are printed, the rest counted and summed up in one
// "suppressed" event.
const (
	RepeatWindow  = 10 * time.Second
	RepeatMax     = 5
	maxRepeatKeys = 1024
)

// Limited prints an event unless key has had RepeatMax of them in this
// window; see Flush for the summary.
func (p *Printer) Limited(key, name string, fields ...any) {
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
	if r != nil && now.Sub(r.start) >= RepeatWindow {
		p.summaryLocked(key, r)
		r = nil
	}
	if r == nil {
		r = &repeat{name: name, fields: fields, start: now}
		p.repeats[key] = r
	}
	if r.printed >= RepeatMax {
		r.suppressed++
		p.mu.Unlock()
		return
	}
	r.printed++
	p.mu.Unlock()
	p.Event(name, fields...)
}

// Once prints an event the first time key is seen, and only counts the
// later ones: a window (RepeatWindow, from the first repeat) that had
// any ends with one suppressed event summing them up (Flush). It is for
// a failure that repeating cannot change, said once per source (past
// maxRepeatKeys sources, the rest share one key).
func (p *Printer) Once(key, name string, fields ...any) {
	p.mu.Lock()
	if p.once == nil {
		p.once = map[string]*repeat{}
	}
	r := p.once[key]
	if r == nil && len(p.once) >= maxRepeatKeys {
		key = "(many sources)"
		r = p.once[key]
	}
	if r == nil {
		p.once[key] = &repeat{name: name, fields: fields}
		p.mu.Unlock()
		p.Event(name, fields...)
		return
	}
	if r.suppressed == 0 {
		r.start = time.Now()
	}
	r.suppressed++
	p.mu.Unlock()
}

// Flush prints the summaries of windows that have ended (or all, at the
// end of a run).
func (p *Printer) Flush(all bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for key, r := range p.repeats {
		if all || now.Sub(r.start) >= RepeatWindow {
			p.summaryLocked(key, r)
		}
	}
	for _, r := range p.once {
		if n := r.suppressed; n > 0 && (all || now.Sub(r.start) >= RepeatWindow) {
			r.suppressed = 0 // before the lock is let go: repeats from now on are the next window's
			p.suppressedLocked(r.name, n, r.fields)
		}
	}
}

// summaryLocked prints how many events of key were left out, and forgets
// the key.
func (p *Printer) summaryLocked(key string, r *repeat) {
	delete(p.repeats, key)
	if r.suppressed > 0 {
		p.suppressedLocked(r.name, r.suppressed, r.fields)
	}
}

// suppressedLocked prints a suppressed event: count events called name
// were left out; first are the first one's fields. It lets go of p.mu
// while it prints.
func (p *Printer) suppressedLocked(name string, count int, first []any) {
	fields := append([]any{"of", name, "count", count, "window_s", Seconds(RepeatWindow), "seconds", int(RepeatWindow.Seconds())}, first...)
	p.mu.Unlock()
	p.Event("suppressed", fields...)
	p.mu.Lock()
}

// Event prints one event. fields alternate key and value. Every event
// gets a time field (TimeFormat). In text mode the line is logfmt: the
// event name, then node when there is one, then the fields in the order
// given, time last; a value is quoted when it is empty or holds a space,
// a quote, an equals sign or a control character.
func (p *Printer) Event(name string, fields ...any) {
	if check := CheckFields; check != nil {
		check(name, fields)
	}
	fields = append(fields[:len(fields):len(fields)], "time", p.stamp())
	var line []byte
	if p.json {
		m := map[string]any{"event": name}
		for i := 0; i+1 < len(fields); i += 2 {
			m[fields[i].(string)] = fields[i+1]
		}
		b, err := json.Marshal(m)
		if err != nil {
			b, _ = json.Marshal(map[string]any{"event": "error", "error": err.Error()})
		}
		line = append(b, '\n')
	} else {
		line = logfmtLine(name, fields)
	}
	p.mu.Lock()
	tap := p.tap
	if !p.closed {
		p.w.Write(line)
	}
	p.mu.Unlock()
	if tap != nil {
		tap(name, fields[:len(fields)-2])
	}
}

// logfmtLine formats one event as a logfmt line.
func logfmtLine(name string, fields []any) []byte {
	b := []byte(name)
	for pass := range 2 { // node first, then the rest
		for i := 0; i+1 < len(fields); i += 2 {
			k := fields[i].(string)
			if (k == "node") != (pass == 0) {
				continue
			}
			b = append(b, ' ')
			b = append(b, k...)
			b = append(b, '=')
			b = appendLogfmtValue(b, fields[i+1])
		}
	}
	return append(b, '\n')
}

func appendLogfmtValue(b []byte, v any) []byte {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []string:
		s = strings.Join(v, ",")
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case error:
		s = v.Error()
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		for i, k := range keys {
			keys[i] = fmt.Sprintf("%s:%v", k, v[k])
		}
		s = strings.Join(keys, ",")
	default:
		s = fmt.Sprint(v)
	}
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == '"' || r == '=' || r == 0x7f || !unicode.IsPrint(r)
	}) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// Text prints a line only in plain mode, and not when quiet.
func (p *Printer) Text(format string, args ...any) {
	if p.json {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed && !p.quiet {
		fmt.Fprintf(p.w, format+"\n", args...)
	}
}

// ErrorKind is an error's text without its numbers (nonces, ports, ids,
// sizes), so that repeats of one failure share a key.
func ErrorKind(err error) string {
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

// HostOf is the host of a HOST:PORT address, or the address itself.
func HostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Round1 rounds f to one decimal, for figures in events.
func Round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// Seconds is d in seconds rounded to milliseconds: the unit of every
// duration field (a key ending in _s).
func Seconds(d time.Duration) float64 { return Round(d.Seconds(), 3) }

// Millis is d in milliseconds rounded to microseconds: the unit of the
// latencies where a millisecond matters (a key ending in _ms).
func Millis(d time.Duration) float64 { return Round(float64(d)/float64(time.Millisecond), 3) }

// Round rounds f to n decimals, for figures in events: no float noise.
func Round(f float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(f*p) / p
}
