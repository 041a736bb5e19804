package cli

import (
	"context"
	"net"
	"net/http"
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
// listening event with the transport given.
func ServeOn(addr, transport string, pr *Printer, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
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
	}, nil
}
