package ws

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A closed connection with a deadline still ahead is freed at once: Close
// stops the deadlines' timers, which would otherwise hold it (and its
// buffers) until they fire. mux sets a write deadline before every write,
// so every link a relay closes had one.
func TestCloseFreesPendingDeadlines(t *testing.T) {
	held := make(chan *Conn, 1)
	srv := httptest.NewServer(&Handler{Serve: func(c *Conn) {
		held <- c
		<-c.ws.CloseRead(context.Background()).Done()
	}})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	freed := make(chan struct{})
	func() {
		c := <-held
		c.SetWriteDeadline(time.Now().Add(time.Hour))
		c.SetReadDeadline(time.Now().Add(time.Hour))
		runtime.AddCleanup(c.ws, func(ch chan struct{}) { close(ch) }, freed)
		c.Close()
	}()
	for range 50 {
		runtime.GC()
		select {
		case <-freed:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("a closed connection with its deadlines an hour ahead was not freed: their timers hold it")
}
