package metrics_test

import (
	"net/http"
	"os"
	"strings"

	"github.com/seed0021ed4d/pex/metrics"
	"github.com/seed0021ed4d/pex/pxp"
)

// Serve an Exchange's metrics beside Go's profiles.
func Example() {
	ex, _ := pxp.New("chat", nil)
	defer ex.Close()
	_ = &http.Server{Addr: "127.0.0.1:9100", Handler: metrics.Handler(metrics.NewPXP(ex))} // ListenAndServe it

	var relays []metrics.Family
	for _, f := range metrics.NewPXP(ex).Collect() {
		if strings.HasPrefix(f.Name, "pex_pxp_relay") {
			relays = append(relays, f)
		}
	}
	metrics.Write(os.Stdout, relays)
	// Output:
	// # HELP pex_pxp_relays Relayed pairs carried now.
	// # TYPE pex_pxp_relays gauge
	// pex_pxp_relays 0
	// # HELP pex_pxp_relays_started_total Relayed pairs this node has spliced.
	// # TYPE pex_pxp_relays_started_total counter
	// pex_pxp_relays_started_total 0
	// # HELP pex_pxp_relayed_bytes_total Bytes carried for relayed pairs.
	// # TYPE pex_pxp_relayed_bytes_total counter
	// pex_pxp_relayed_bytes_total 0
}
