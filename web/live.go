package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Limits of the live view.
const (
	// MaxLiveViewers bounds the pages following one Live at once; more
	// get 503.
	MaxLiveViewers = 16
	// MaxLiveLog bounds the log entries kept for a page that arrives late
	// (and a page keeps no more).
	MaxLiveLog = 200
	// LiveInterval spaces the snapshots sent to each page.
	LiveInterval = time.Second
	// liveQueue bounds the entries waiting for a slow page; past it the
	// page misses entries (and says so).
	liveQueue = 256
)

// Live is the operator page of a running node or swarm: at /live a page
// that draws the peers as a graph (cytoscape.js, embedded), a table of
// them and a log, kept up to date from /live/events, a stream of
// server-sent events: "snapshot" (Snapshot's value, once a LiveInterval)
// and "log" (each value given to Log, the last MaxLiveLog replayed to a
// page that arrives late).
//
// The snapshot the page draws is a JSON object:
//
//	{"kind": "pxp" | "bt", "title": "...",
//	 "self": {"id": "..."},
//	 "peers": [{"id", "label", "transport", "net", "source", "client",
//	            "age_s", "bytes_in", "bytes_out", "outgoing", "via"}],
//	 "others": [{"id", "source"}],        (named, not connected)
//	 "edges": [{"from", "to", "net"}],    (who named whom)
//	 "stats": {"name": number, ...}}
type Live struct {
	snapshot func() any

	mu     sync.Mutex
	subs   map[chan []byte]struct{}
	log    [][]byte
	missed uint64
	closed bool
}

// NewLive returns a Live drawing snapshot's values.
func NewLive(snapshot func() any) *Live {
	return &Live{snapshot: snapshot, subs: make(map[chan []byte]struct{})}
}

// Log sends v (marshalled as JSON) to every page as a "log" event.
func (l *Live) Log(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	msg := []byte(fmt.Sprintf("event: log\ndata: %s\n\n", b))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.log = append(l.log, msg)
	if len(l.log) > MaxLiveLog {
		l.log = l.log[len(l.log)-MaxLiveLog:]
	}
	for ch := range l.subs {
		select {
		case ch <- msg:
		default:
			l.missed++
		}
	}
}

// Close ends every page's stream.
func (l *Live) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	for ch := range l.subs {
		close(ch)
	}
	l.subs = nil
}

// Handler serves the page at /live (and its script and library) and the
// stream at /live/events.
func (l *Live) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/live", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, Static(), "live.html")
	})
	mux.HandleFunc("/live/events", l.serveEvents)
	mux.Handle("/", http.FileServerFS(Static()))
	return mux
}

func (l *Live) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan []byte, liveQueue)
	l.mu.Lock()
	if l.closed || len(l.subs) >= MaxLiveViewers {
		l.mu.Unlock()
		http.Error(w, "too many viewers", http.StatusServiceUnavailable)
		return
	}
	backlog := append([][]byte(nil), l.log...)
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	snap := func() bool {
		b, err := json.Marshal(l.snapshot())
		if err != nil {
			return false
		}
		return write([]byte(fmt.Sprintf("event: snapshot\ndata: %s\n\n", b)))
	}
	if !snap() {
		return
	}
	for _, m := range backlog {
		if !write(m) {
			return
		}
	}
	t := time.NewTicker(LiveInterval)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case m, ok := <-ch:
			if !ok || !write(m) {
				return
			}
		case <-t.C:
			if !snap() {
				return
			}
		}
	}
}
