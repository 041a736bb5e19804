package soak

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countTimers counts exactly the timers this process holds: 300 made
// (by AfterFunc, NewTimer and NewTicker) are 300 more, and once stopped
// and dropped they are gone again.
func TestCountTimers(t *testing.T) {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1 // as GODEBUG=memprofilerate=1 sets it
	defer func() { runtime.MemProfileRate = old }()
	count := func() int {
		t.Helper()
		for range 3 { // the profile is as of the last collection but one
			runtime.GC()
		}
		n, err := countTimers(heapProfile(t))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	var stops []func() bool
	for range 100 {
		stops = append(stops, time.AfterFunc(time.Hour, func() {}).Stop, time.NewTimer(time.Hour).Stop)
		tk := time.NewTicker(time.Hour)
		stops = append(stops, func() bool { tk.Stop(); return true })
	}
	during := count()
	for _, s := range stops {
		s()
	}
	stops = nil
	after := count()
	// The runtime's per-P arrays of timers, which time.newTimer grows,
	// are counted too: a few objects more.
	if grew := during - before; grew < 300 || grew > 305 || after > before+5 {
		t.Fatalf("timers: %d before, %d with 300 more, %d once they are stopped and dropped", before, during, after)
	}
}

// heapProfile is this process's heap profile, as the soak reads the
// node's: written in its binary form and parsed.
func heapProfile(t *testing.T) *profile.Profile {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&b, 0); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A heap profile not taken with every allocation recorded is refused.
func TestCountTimersNeedsEveryAllocation(t *testing.T) {
	if runtime.MemProfileRate == 1 {
		t.Skip("the test binary records every allocation")
	}
	if _, err := countTimers(heapProfile(t)); err == nil || !strings.Contains(err.Error(), memProfileEnv) {
		t.Fatalf("a sampled profile was taken: %v", err)
	}
}

// parseMetrics sums a metric's samples over their labels and reads
// unlabelled ones; an empty family is 0.
func TestParseMetrics(t *testing.T) {
	text := `# HELP pex_pxp_links PXP links past their handshake, by transport.
# TYPE pex_pxp_links gauge
pex_pxp_links{transport="tcp"} 12
pex_pxp_links{transport="ws"} 30
pex_pxp_links_other 1000
go_goroutines 417
pex_bt_connections{infohash="ab",network="ut_pex",client="x y"} 3
`
	vals, err := parseMetrics(strings.NewReader(text), map[string]bool{"pex_pxp_links": true, "go_goroutines": true, "pex_bt_connections": true, "absent": true})
	if err != nil {
		t.Fatal(err)
	}
	if vals["pex_pxp_links"] != 42 || vals["go_goroutines"] != 417 || vals["pex_bt_connections"] != 3 || vals["absent"] != 0 {
		t.Fatalf("%v", vals)
	}
}

// statusKiB reads this process's anonymous memory.
func TestStatusKiB(t *testing.T) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	if kib, err := statusKiB(b, "RssAnon:"); err != nil || kib <= 0 {
		t.Fatalf("RssAnon %d: %v", kib, err)
	}
	if _, err := statusKiB(b, "NoSuchField:"); err == nil {
		t.Fatal("a missing field was read")
	}
}

// A sample is taken without the heap profile: a profile that fails
// leaves the sample's other metrics read and its timers uncounted.
func TestSampleWithoutProfile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			io.WriteString(w, "go_goroutines 7\npex_bt_connections 3\n")
			return
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	s := newSampler(os.Getpid(), strings.TrimPrefix(srv.URL, "http://"), "pex_bt_connections")
	smp, err := s.sample(context.Background())
	if err != nil || smp.Goroutines != 7 || smp.Links != 3 || smp.AnonKiB <= 0 || smp.FDs <= 0 || smp.Timers != NoCount {
		t.Fatalf("sample %+v: %v", smp, err)
	}
	if err := s.countTimers(context.Background(), &smp, false); err == nil || smp.Timers != NoCount {
		t.Fatalf("a failed profile counted %d timers (%v)", smp.Timers, err)
	}
}
