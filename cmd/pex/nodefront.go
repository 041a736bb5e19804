// A pex node's front door for browsers and web applications: TLS for
// --http and --ws (with its certificate re-read on renewal and SIGHUP),
// the reverse proxies whose client addresses it believes, and the page
// origins it accepts.

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"net"
	"net/netip"
	"os"
	"path"
	"strings"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/transport/ws"
)

// frontOpts are the flags of a node's HTTP front: --tls-cert, --tls-key,
// --trusted-proxy and --ws-origin.
type frontOpts struct {
	tlsCert, tlsKey string
	trustedProxies  cli.ListFlag
	wsOrigins       cli.ListFlag

	proxies []netip.Prefix // --trusted-proxy, parsed by check
	certs   *cli.CertFiles // --tls-cert and --tls-key, loaded by check
}

func (f *frontOpts) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve --http and --ws over TLS (HTTPS and WSS) with the certificate chain in PEM `FILE`, re-read when it changes and on SIGHUP (default: none, plain HTTP)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the private key of --tls-cert, PEM `FILE`, re-read with it (default: none)")
	fs.Var(&f.trustedProxies, "trusted-proxy", "take a WebSocket peer's address from X-Forwarded-For or Forwarded when it connects from the reverse proxy at `CIDR` (an address or a prefix; repeatable; none by default: a peer is where its connection comes from)")
	fs.Var(&f.wsOrigins, "ws-origin", "accept WebSocket peers of --http and --ws only from pages whose origin matches `PATTERN` (app.example.com, *.example.com or https://app.example.com; the node's own host always; repeatable; default: any origin)")
}

// frontRules are the combinations of the front's flags pex node refuses.
var frontRules = []cli.Rule{
	{If: "tls-cert", Needs: []string{"tls-key"}, Why: "a certificate is served with its private key"},
	{If: "tls-key", Needs: []string{"tls-cert"}, Why: "a private key is served with its certificate"},
	{If: "tls-cert", Needs: []string{"http", "ws"}, Why: "TLS is for the browser page and the WebSocket endpoint"},
	{If: "trusted-proxy", Needs: []string{"http", "ws"}, Why: "the proxies' headers are read from WebSocket peers"},
	{If: "ws-origin", Needs: []string{"http", "ws"}, Why: "origins are those of the pages that open WebSockets"},
}

// check parses --trusted-proxy and --ws-origin and loads the certificate
// and key, naming each bad flag.
func (f *frontOpts) check(c *cli.Checks, given map[string]bool) {
	c.Rules(given, frontRules)
	for _, s := range f.trustedProxies {
		p, err := parseProxy(s)
		switch {
		case err != nil:
			c.Fail("trusted-proxy", "want an address or a prefix such as 127.0.0.1 or 10.0.0.0/8, got %q", s)
		case p.Bits() == 0:
			c.Fail("trusted-proxy", "%s trusts every address: any peer could name itself anyone, and the limits per IP and per prefix would hold nobody", s)
		default:
			f.proxies = append(f.proxies, p)
		}
	}
	for _, p := range f.wsOrigins {
		if _, err := path.Match(p, ""); err != nil || p == "" || strings.ContainsAny(p, " ,") {
			c.Fail("ws-origin", "want a host pattern such as app.example.com, *.example.com or https://app.example.com, got %q", p)
		}
	}
	if f.tlsCert != "" && f.tlsKey != "" {
		certs, err := cli.LoadCertFiles(f.tlsCert, f.tlsKey)
		var pe *os.PathError
		switch {
		case errors.As(err, &pe) && pe.Path == f.tlsKey:
			c.Fail("tls-key", "%v", err)
		case err != nil:
			c.Fail("tls-cert", "%v", err)
		}
		f.certs = certs
	}
}

// parseProxy reads an address (a prefix of its own) or a prefix, IPv4
// written as IPv4.
func parseProxy(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, errors.New("an IPv4-mapped prefix")
	}
	return p.Masked(), nil
}

// wsHandler is the WebSocket endpoint of --ws and of --http's /ws.
func (f *frontOpts) wsHandler(serve func(*ws.Conn)) *ws.Handler {
	return &ws.Handler{Serve: serve, OriginPatterns: f.wsOrigins, TrustedProxies: f.proxies}
}

// listener serves TLS on ln when --tls-cert is given; fields are the
// listening event's for it.
func (f *frontOpts) listener(ln net.Listener) (_ net.Listener, fields []any) {
	if f.certs == nil {
		return ln, nil
	}
	return f.certs.Listener(ln), []any{"tls", true}
}

// startTLS reports the certificate the node serves, and every reading of
// its files after: tls-certificate when the pair loaded, tls-certificate-
// failed when it did not (the previous pair is served on).
func (n *node) startTLS() {
	certs := n.opts.front.certs
	if certs == nil {
		return
	}
	files := []any{"cert", certs.CertPath, "key", certs.KeyPath}
	n.pr.Event("tls-certificate", append(append([]any{"reason", "start"}, files...), cli.CertFields(certs.Current())...)...)
	certs.OnReload = func(cert *tls.Certificate, reason string, err error) {
		if err != nil {
			n.pr.Event("tls-certificate-failed", append([]any{"reason", reason}, append(files, "error", err.Error())...)...)
			return
		}
		n.pr.Event("tls-certificate", append(append([]any{"reason", reason}, files...), cli.CertFields(cert)...)...)
	}
}

// hangup answers SIGHUP: the node re-reads what it reads from files (the
// certificate and key) and says what it re-read.
func (n *node) hangup() {
	reloaded := []string{}
	if certs := n.opts.front.certs; certs != nil {
		reloaded = append(reloaded, "tls")
	}
	n.pr.Event("sighup", "reloaded", reloaded)
	if certs := n.opts.front.certs; certs != nil {
		certs.Reload("sighup")
	}
}

// hangupLoop answers each SIGHUP until ctx ends.
func (n *node) hangupLoop(ctx context.Context, hup <-chan os.Signal) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			n.hangup()
		}
	}
}
