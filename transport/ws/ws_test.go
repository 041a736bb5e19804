package ws

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/pxp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func server(t *testing.T, ex *pxp.Exchange, got chan<- *pxp.Conn, errs chan<- error) string {
	t.Helper()
	srv := httptest.NewServer(&Handler{Serve: func(c *Conn) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			dc, err := ex.Accept(ctx, c)
			if err != nil {
				errs <- err
				return
			}
			got <- dc
		}()
	}})
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestPXPOverWebSocket(t *testing.T) {
	a, _ := pxp.New("ws-net", nil)
	b, _ := pxp.New("ws-net", nil)
	defer a.Close()
	defer b.Close()
	got, errs := make(chan *pxp.Conn, 1), make(chan error, 4)
	url := server(t, a, got, errs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := b.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ac := <-got
	if ac.Transport() != "ws" || bc.Transport() != "ws" {
		t.Fatalf("transports %q %q", ac.Transport(), bc.Transport())
	}
	fmt.Fprintln(bc, "over websocket")
	line, _ := bufio.NewReader(ac).ReadString('\n')
	if line != "over websocket\n" {
		t.Fatalf("got %q", line)
	}
}

// A browser that sends garbage: the link is closed with a clear error and
// the node keeps serving others.
func TestGarbageOverWebSocket(t *testing.T) {
	a, _ := pxp.New("ws-net", nil)
	defer a.Close()
	got, errs := make(chan *pxp.Conn, 1), make(chan error, 4)
	url := server(t, a, got, errs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		typ  websocket.MessageType
		data string
		want error
	}{
		{websocket.MessageBinary, "GET / HTTP/1.1\r\n\r\n", pxp.ErrBadMagic},
		{websocket.MessageText, "#PXP#", nil},
	} {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		readDone := make(chan struct{})
		go func() { // reading answers the server's close handshake
			defer close(readDone)
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
		c.Write(ctx, tc.typ, []byte(tc.data))
		err = <-errs
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Fatalf("got %v, want %v", err, tc.want)
		}
		if err == nil {
			t.Fatal("garbage accepted")
		}
		<-readDone
		c.CloseNow()
	}
	// Still serving.
	b, _ := pxp.New("ws-net", nil)
	defer b.Close()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	<-got
}
