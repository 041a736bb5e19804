// A pex node's TURN credentials: the long-term --turn-user, or short-lived ones minted from --turn-secret for its own upgrades and for the page --http serves.

package main

import (
	"bytes"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/turnrest"
	"github.com/seed0021ed4d/pex/web"
)

// Bounds of --turn-ttl, the life of a credential minted from
// --turn-secret. The default, an hour, makes a credential copied out of
// the page useless within the hour, and leaves room for the node's and
// the TURN server's clocks to differ by minutes. Below a minute, clocks a
// little apart would refuse credentials just minted; a day is the TTL
// draft-uberti-behave-turn-rest-00 recommends, and longer would no longer
// be short-lived. The credential is checked when an allocation is made,
// so the TTL bounds when relays can be opened with it, not how long a
// relayed link lives.
const (
	defaultTurnTTL = time.Hour
	minTurnTTL     = time.Minute
	maxTurnTTL     = 24 * time.Hour
)

// pageIPv6Prefix is the prefix length a page's credential is named by
// for an IPv6 browser: a host holds a whole /64.
const pageIPv6Prefix = 64

// checkTurnSecret checks --turn-ttl and reads --turn-secret's secret into
// a Minter.
func (o *nodeOpts) checkTurnSecret(c *cli.Checks) {
	ttlOK := o.turnTTL >= minTurnTTL && o.turnTTL <= maxTurnTTL
	if !ttlOK {
		c.Fail("turn-ttl", "want %s to %s, got %v", shortDuration(minTurnTTL), shortDuration(maxTurnTTL), o.turnTTL)
	}
	if o.turnSecretFile == "" {
		return
	}
	if secret := readSecret(c, "turn-secret", o.turnSecretFile); secret != nil && ttlOK {
		o.turnMinter, _ = turnrest.NewMinter(secret, o.turnTTL, nil)
	}
}

// readSecret reads a TURN REST secret from the file flag names, at start:
// its bytes, white space around them trimmed (turnrest.ParseSecret). The
// secret itself is never echoed.
func readSecret(c *cli.Checks, flag, path string) []byte {
	b, ok := c.ReadFile(flag, path, maxSecretFile)
	if !ok {
		return nil
	}
	secret, err := turnrest.ParseSecret(b)
	if err != nil {
		c.Fail(flag, "%s holds %d bytes once trimmed: want a secret of %d to %d bytes, such as openssl rand -base64 32 makes",
			path, len(bytes.TrimSpace(b)), turnrest.MinSecretLen, turnrest.MaxSecretLen)
		return nil
	}
	return secret
}

// shortDuration prints d without its zero minutes and seconds: 1m, 24h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// isTURNURL reports whether an --ice-server URL is a turn: or turns: one.
func isTURNURL(u string) bool { return strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") }

// iceCredentials is webrtc.Config.ICECredentials for the node's own
// upgrades: with --turn-secret, a credential minted at each upgrade's
// start, named by the node's id; nil otherwise.
func (o *nodeOpts) iceCredentials() func() (string, string) {
	m := o.turnMinter
	if m == nil {
		return nil
	}
	name := o.turnName
	if name == nil {
		name = func() string { return "node" }
	}
	return func() (string, string) {
		c := m.Mint(name())
		return c.Username, c.Password
	}
}

// page is what the browser page served with --http is told: the node's
// network and ICE servers, with the TURN credentials (whoever loads the
// page sees them): --turn-user's long-term ones, or with --turn-secret
// ones minted for each page load and each refresh the page asks for.
func (o *nodeOpts) page() web.Page {
	p := web.Page{Network: o.network}
	for _, u := range o.iceServers {
		s := web.ICEServer{URLs: []string{u}}
		if isTURNURL(u) && o.turnMinter == nil {
			s.Username, s.Credential = o.turnUser, o.turnPass
		}
		p.ICEServers = append(p.ICEServers, s)
	}
	if m := o.turnMinter; m != nil {
		servers := p.ICEServers
		p.MintICE = func(r *http.Request) ([]web.ICEServer, time.Time) {
			c := m.Mint(pageName(r))
			out := slices.Clone(servers)
			for i, s := range out {
				if isTURNURL(s.URLs[0]) {
					out[i].Username, out[i].Credential = c.Username, c.Password
				}
			}
			return out, c.Expires
		}
	}
	return p
}

// pageName is the name a page's credential carries: "page-" and the
// browser's address (an IPv6 one's /64). TURN servers count their
// per-user quotas by it (pex turn --max-allocations, coturn's
// user-quota), so one browser host cannot take every allocation the
// pages may hold. Behind a reverse proxy every page is the proxy's.
func pageName(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "page"
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(pageIPv6Prefix)
		return "page-" + p.String()
	}
	return "page-" + a.String()
}

// warnCredentials says, at start, that the page --http serves hands the
// long-term TURN user and password to whoever loads it.
func (n *node) warnCredentials() {
	if n.opts.http == "" || n.opts.turnUser == "" || n.opts.noWebRTC {
		return
	}
	if servers := n.opts.turnServers(); len(servers) > 0 {
		n.pr.Event("turn-credentials-served", "http", n.httpLn.Addr().String(), "user", n.opts.turnUser, "servers", servers,
			"why", "the page --http serves embeds the TURN user and password: everyone who loads it can relay through these servers")
	}
}
