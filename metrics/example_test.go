package metrics_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/seed0021ed4d/pex/metrics"
	"github.com/seed0021ed4d/pex/pxp"
)

// Serve an Exchange's metrics beside Go's profiles.
func Example() {
	ex, _ := pxp.New("chat", nil)
	defer ex.Close()
	reg := metrics.NewRegistry(metrics.NewPXP(ex))
	_ = &http.Server{Addr: "127.0.0.1:9100", Handler: metrics.Handler(reg)} // ListenAndServe it

	fams, _ := reg.Gather()
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "pex_pxp_relay") {
			fmt.Println(f.GetName(), f.GetType())
		}
	}
	// Output:
	// pex_pxp_relayed_bytes_total COUNTER
	// pex_pxp_relays GAUGE
	// pex_pxp_relays_started_total COUNTER
}
