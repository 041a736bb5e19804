package metrics

import (
	"bytes"
	"net/http"
	"net/http/pprof"

	vm "github.com/VictoriaMetrics/metrics"
)

// MaxScrapes is how many /metrics requests Handler serves at once; more
// are answered 503 at once rather than queued.
const MaxScrapes = 4

// Handler serves the collectors' metrics at /metrics, in Prometheus' text
// format, with the Go runtime's and the process's own (go_*, process_*,
// written by github.com/VictoriaMetrics/metrics), and Go's profiles under
// /debug/pprof/. It turns on VictoriaMetrics' HELP and TYPE lines
// (metrics.ExposeMetadata), for the whole process.
func Handler(cs ...Collector) http.Handler {
	vm.ExposeMetadata(true)
	mux := http.NewServeMux()
	slots := make(chan struct{}, MaxScrapes)
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			http.Error(w, "too many scrapes at once", http.StatusServiceUnavailable)
			return
		}
		var fams []Family
		for _, c := range cs {
			fams = append(fams, c.Collect()...)
		}
		var b bytes.Buffer
		if err := Write(&b, fams); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		vm.WriteGoMetrics(&b)
		vm.WriteProcMetrics(&b)
		w.Header().Set("Content-Type", ContentType)
		w.Write(b.Bytes())
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
