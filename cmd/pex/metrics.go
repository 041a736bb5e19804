package main

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveMetrics serves the operator endpoints on addr until stop: Go's
// profiles under /debug/pprof/ (goroutines, heap, CPU). It reports the
// address in a listening event with transport "metrics".
func serveMetrics(ctx context.Context, addr string, pr *printer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	pr.event("listening", "addr", ln.Addr().String(), "transport", "metrics")
	return func() {
		srv.Close()
		<-done
	}, nil
}
