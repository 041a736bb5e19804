package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/seed0021ed4d/pex/metrics"
)

// serveMetrics serves the operator endpoints on addr until stop:
// Prometheus' text at /metrics (cs, and the Go runtime's and the
// process's own) and Go's profiles under /debug/pprof/ (goroutines, heap,
// CPU). It reports the address in a listening event with transport
// "metrics".
func serveMetrics(ctx context.Context, addr string, pr *printer, cs ...metrics.Collector) (stop func(), err error) {
	return serveOn(addr, "metrics", pr, metrics.Handler(cs...))
}

// serveOn serves h on addr until stop, reporting the address in a
// listening event with the transport given.
func serveOn(addr, transport string, pr *printer, h http.Handler) (stop func(), err error) {
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
	pr.event("listening", "addr", ln.Addr().String(), "transport", transport)
	return func() {
		srv.Close()
		<-done
	}, nil
}
