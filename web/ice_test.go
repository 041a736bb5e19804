package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// get serves one request to h and returns the body.
func get(t *testing.T, h http.Handler, path, remote string) string {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: %d, Cache-Control %q", path, w.Code, w.Header().Get("Cache-Control"))
	}
	return w.Body.String()
}

// With MintICE every page load and every refresh at /ice-servers gets
// servers minted for the browser asking, and is told to ask again at half
// the time they have left.
func TestICEServersMintedPerLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ttl := 10 * time.Minute
		minted := 0
		var remotes []string
		h := Handler(Page{Network: "n", MintICE: func(r *http.Request) ([]ICEServer, time.Time) {
			minted++
			remotes = append(remotes, r.RemoteAddr)
			return []ICEServer{{URLs: []string{"turn:192.0.2.1:3478"}, Username: fmt.Sprintf("%d:page", time.Now().Add(ttl).Unix()), Credential: fmt.Sprint("c", minted)}}, time.Now().Add(ttl)
		}}, http.NotFoundHandler())

		js := get(t, h, "/network.js", "192.0.2.7:5000")
		first := time.Now().Add(ttl).Unix()
		if want := fmt.Sprintf(`window.PEX_ICE_SERVERS = [{"urls":["turn:192.0.2.1:3478"],"username":"%d:page","credential":"c1"}]`, first) + "\n" +
			"window.PEX_ICE_REFRESH_S = 300\n"; !strings.HasSuffix(js, want) {
			t.Fatalf("/network.js = %q, want it to end with %q", js, want)
		}
		time.Sleep(4 * time.Minute)
		var got iceReply
		if err := json.Unmarshal([]byte(get(t, h, "/ice-servers", "192.0.2.8:6000")), &got); err != nil {
			t.Fatal(err)
		}
		if second := fmt.Sprintf("%d:page", first+4*60); len(got.ICEServers) != 1 || got.ICEServers[0].Username != second || got.ICEServers[0].Credential != "c2" || got.RefreshS != 300 {
			t.Fatalf("/ice-servers = %+v, want the second credential, fresh, and refresh_s 300", got)
		}
		if minted != 2 || remotes[0] != "192.0.2.7:5000" || remotes[1] != "192.0.2.8:6000" {
			t.Fatalf("minted %d times, for %v", minted, remotes)
		}
	})
}

// A page whose servers hold no expiry (long-term credentials, or none)
// is not told to refresh them.
func TestICEServersStatic(t *testing.T) {
	h := Handler(Page{ICEServers: []ICEServer{{URLs: []string{"stun:192.0.2.1:3478"}}}}, http.NotFoundHandler())
	if js := get(t, h, "/network.js", "192.0.2.7:5000"); strings.Contains(js, "REFRESH") {
		t.Fatalf("/network.js = %q", js)
	}
	if body := get(t, h, "/ice-servers", "192.0.2.7:5000"); body != `{"iceServers":[{"urls":["stun:192.0.2.1:3478"]}]}`+"\n" {
		t.Fatalf("/ice-servers = %q", body)
	}
}

// Headless Chromium runs the page's refresh: told to ask again in a
// second, it fetches /ice-servers, and again after the refresh_s that
// answer gave.
func TestPageRefreshesICEServers(t *testing.T) {
	chromium := need(t, "chromium")
	refreshes := make(chan struct{}, 8)
	h := Handler(Page{Network: "n", MintICE: func(r *http.Request) ([]ICEServer, time.Time) {
		if r.URL.Path == "/ice-servers" {
			refreshes <- struct{}{}
		}
		return []ICEServer{{URLs: []string{"turn:192.0.2.1:3478"}, Username: "u", Credential: "c"}}, time.Now().Add(2 * time.Second)
	}}, http.NotFoundHandler())
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(), srv.URL+"/?name=A")
	// Its own process group, ended whole: Chromium's helpers (renderer,
	// network service) outlive a killed browser process for a moment and
	// write into the profile while the test removes it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { // the Chromium we started and its helpers, by their group's id
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		for range 50 { // the helpers, reparented, end within moments
			if syscall.Kill(-cmd.Process.Pid, 0) != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for i := range 2 {
		select {
		case <-refreshes:
		case <-time.After(30 * time.Second):
			t.Fatalf("the page asked for fresh ICE servers %d times, want 2", i)
		}
	}
}
