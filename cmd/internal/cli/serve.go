package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/seed0021ed4d/pex/metrics"
)

// ServeMetrics serves the operator endpoints on addr until stop:
// Prometheus' text at /metrics (cs, and the Go runtime's and the
// process's own) and Go's profiles under /debug/pprof/ (goroutines, heap,
// CPU). It reports the address in a listening event with transport
// "metrics".
func ServeMetrics(ctx context.Context, addr string, pr *Printer, cs ...metrics.Collector) (stop func(), err error) {
	return ServeOn(addr, "metrics", pr, metrics.Handler(cs...))
}

// ServeOn serves h on addr until stop, reporting the address in a
// listening event with the transport given, which is also the flag that
// gave addr (--http, --metrics): a failure to bind names it (BindError).
func ServeOn(addr, transport string, pr *Printer, h http.Handler) (stop func(), err error) {
	ln, err := Listen(transport, addr)
	if err != nil {
		return nil, err
	}
	return Serve(ln, transport, pr, h), nil
}

// Serve serves h on ln until stop, reporting its address in a listening
// event with the transport given.
func Serve(ln net.Listener, transport string, pr *Printer, h http.Handler) (stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	pr.Event("listening", "addr", ln.Addr().String(), "transport", transport)
	return func() {
		srv.Close()
		<-done
	}
}

// Listen listens on TCP addr, which flag gave; a failure names the flag
// (BindError).
func Listen(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, BindError(flag, addr, err)
	}
	return ln, nil
}

// BindError is a failure to listen on addr, which flag gave, in the
// user's words: "--http 127.0.0.1:8080: address already in use".
func BindError(flag, addr string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
	}
	return fmt.Errorf("--%s %s: %w", flag, addr, err)
}
