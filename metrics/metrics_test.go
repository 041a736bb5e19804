package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/pxp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape fetches url's /metrics and parses it with Prometheus' own text
// parser.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v\n%s", res.StatusCode, err, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return fams, string(body)
}

// value is the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no %s in the scrape", name)
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no %s%v in the scrape", name, want)
	return 0
}

func newExchange(t *testing.T) *pxp.Exchange {
	t.Helper()
	ex, err := pxp.New("pxp-mesh", &pxp.Config{RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	go func() {
		for c := range ex.Incoming() {
			c.Close()
		}
	}()
	go func() {
		for range ex.Events() {
		}
	}()
	return ex
}

func link(t *testing.T, a, b *pxp.Exchange) {
	t.Helper()
	ca, cb := memnet.Pipe("a", "b")
	errc := make(chan error, 1)
	go func() {
		_, err := b.Accept(context.Background(), cb)
		errc <- err
	}()
	if _, err := a.Connect(context.Background(), ca); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// A hub with two leaves: one introduction through it and one that finds
// no candidate, as the hub's and the asker's scrapes show them.
func TestPXPScrape(t *testing.T) {
	hub, b, c := newExchange(t), newExchange(t), newExchange(t)
	link(t, b, hub)
	link(t, c, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.GetNewPeer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetNewPeer(ctx); err == nil {
		t.Fatal("a second introduction found a candidate")
	}
	hubSrv := httptest.NewServer(Handler(NewPXP(hub)))
	defer hubSrv.Close()
	bSrv := httptest.NewServer(Handler(NewPXP(b)))
	defer bSrv.Close()

	fams, body := scrape(t, hubSrv.URL)
	for name, want := range map[string]float64{
		"pex_pxp_getpeers_served_total": 2,
		"pex_pxp_relays_started_total":  1,
		"pex_pxp_relays":                1,
	} {
		if got := value(t, fams, name); got != want {
			t.Errorf("hub %s = %v, want %v", name, got, want)
		}
	}
	if got := value(t, fams, "pex_pxp_links", "transport", "memnet"); got != 2 {
		t.Errorf("hub links = %v, want 2", got)
	}
	if value(t, fams, "pex_pxp_messages_total", "direction", "in") == 0 || value(t, fams, "process_resident_memory_bytes") == 0 {
		t.Error("hub's message or process counters are zero")
	}
	t.Logf("hub's scrape, excerpt:\n%s", excerpt(body, "pex_pxp_"))

	fams, body = scrape(t, bSrv.URL)
	if got := value(t, fams, "pex_pxp_introductions_total", "outcome", "relay"); got != 1 {
		t.Errorf("b's relay introductions = %v", got)
	}
	if got := value(t, fams, "pex_pxp_introduction_failures_total", "reason", "no-candidates"); got != 1 {
		t.Errorf("b's failed introductions = %v", got)
	}
	if got := value(t, fams, "pex_pxp_introduction_duration_seconds"); got != 2 {
		t.Errorf("b's introduction histogram counts %v", got)
	}
	if !strings.Contains(body, `pex_pxp_introduction_duration_seconds_bucket{le="+Inf"} 2`) {
		t.Errorf("no +Inf bucket in b's scrape")
	}

	res, err := http.Get(hubSrv.URL + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b2), "goroutine profile:") {
		t.Errorf("pprof answered %.100q", b2)
	}
}

func excerpt(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func newSwarm(t *testing.T, ih [20]byte) (*swarm.Swarm, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := swarm.New(ih, &swarm.Config{ListenPort: ln.Addr().(*net.TCPAddr).Port, NoAZMP: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	t.Cleanup(func() { s.Close(); <-done })
	return s, netip.MustParseAddrPort(ln.Addr().String())
}

// Three swarms over loopback: A dials B and C and tells each about the
// other; A's scrape shows the links, the dials and the PEX messages.
func TestSwarmScrape(t *testing.T) {
	ih := [20]byte{9, 9, 9}
	a, _ := newSwarm(t, ih)
	b, baddr := newSwarm(t, ih)
	_, caddr := newSwarm(t, ih)
	col := NewSwarms(a)
	srv := httptest.NewServer(Handler(col))
	defer srv.Close()
	a.AddPeer(baddr, swarm.SourceManual)
	a.AddPeer(caddr, swarm.SourceManual)
	const ihHex = "0909090000000000000000000000000000000000"
	// A's PEX message to each goes out a second after its handshake.
	deadline := time.Now().Add(10 * time.Second)
	for a.Stats().PEXSent[swarm.NetUTPex] < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	fams, body := scrape(t, srv.URL)
	if got := value(t, fams, "pex_bt_dials_total", "infohash", ihHex, "outcome", "connected"); got < 2 {
		t.Errorf("a's connected dials = %v", got)
	}
	if got := value(t, fams, "pex_bt_peers_learned_total", "infohash", ihHex, "source", "manual"); got != 2 {
		t.Errorf("a's manual peers = %v", got)
	}
	if got := value(t, fams, "pex_bt_pex_messages_total", "infohash", ihHex, "direction", "out", "network", "ut_pex"); got < 2 {
		t.Errorf("a's PEX messages out = %v", got)
	}
	if got := value(t, fams, "pex_bt_connections", "network", "ut_pex", "client", "pex"); got < 2 {
		t.Errorf("ut_pex connections of pex clients = %v", got)
	}
	if got := value(t, fams, "pex_bt_sender_wakeups_total", "infohash", ihHex); got < 2 {
		t.Errorf("a's sender wake-ups = %v, want one at least for each PEX message", got)
	}
	t.Logf("scrape, excerpt:\n%s", excerpt(body, "pex_bt_"))
	col.Add(b) // b has a's infohash: it takes a's place
	col.Remove(a)
	fams, _ = scrape(t, srv.URL)
	// a dialed b; c, told of b by a, may have dialed it too.
	if got := value(t, fams, "pex_bt_peers_learned_total", "infohash", ihHex, "source", "incoming"); got != float64(b.Stats().Learned[swarm.SourceIncoming]) || got < 1 {
		t.Errorf("b's incoming peers = %v, its Stats say %d", got, b.Stats().Learned[swarm.SourceIncoming])
	}
	// b took a's dial (and maybe c's) through its opening gate, from
	// 127.0.0.1, well within the rate.
	if got, st := value(t, fams, "pex_bt_openings_total", "infohash", ihHex, "outcome", "admitted"), b.Stats(); got < 1 || got > float64(st.OpeningsAdmitted) || st.OpeningsRefused != 0 {
		t.Errorf("b's admitted openings = %v, its Stats say %d admitted, %d refused", got, st.OpeningsAdmitted, st.OpeningsRefused)
	}
	col.Remove(b)
	fams, _ = scrape(t, srv.URL)
	if n := len(fams["pex_bt_dialing"].GetMetric()); n != 0 {
		t.Errorf("%d swarms scraped after removing every one", n)
	}
}

func TestClientName(t *testing.T) {
	for in, want := range map[string]string{
		"libtorrent/2.0.8.0":     "libtorrent",
		"Transmission 4.0.5":     "Transmission",
		"aria2/1.37.0":           "aria2",
		"":                       "unknown",
		"  ":                     "unknown",
		"evil\"label\n{}":        "evillabel",
		strings.Repeat("x", 100): strings.Repeat("x", 32),
	} {
		if got := ClientName(in); got != want {
			t.Errorf("ClientName(%q) = %q, want %q", in, got, want)
		}
	}
}
