// A TLS certificate and key read from files, and read again when they
// change: a renewal (certbot's, or a copy by hand) needs no restart.

package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// CertFiles serves a certificate and key pair read from two PEM files.
// Before each TLS handshake it looks at the files (os.Stat: two system
// calls, no read), and reads them again when either changed (another
// file, another size or another modification time): the handshake after
// a renewal gets the new certificate. A pair that does not load (a key
// written but not yet its certificate, a file cut short) leaves the
// previous pair in use; the files are tried again at the next handshake.
// Reload reads them whatever their state (SIGHUP).
type CertFiles struct {
	CertPath, KeyPath string

	// OnReload, when set, is told of every reading after the first:
	// reason is "changed" (a handshake found the files changed) or what
	// Reload was given; err is why the pair did not load (the previous
	// one is kept). It is called with no lock held.
	OnReload func(cert *tls.Certificate, reason string, err error)

	mu            sync.Mutex
	cert          *tls.Certificate
	certSt, keySt os.FileInfo    // the files' state when cert was read
	fail          [2]os.FileInfo // the files' state when they last failed to load
}

// LoadCertFiles reads the certificate and key; an error names the file
// at fault.
func LoadCertFiles(certPath, keyPath string) (*CertFiles, error) {
	f := &CertFiles{CertPath: certPath, KeyPath: keyPath}
	if _, err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

// load reads both files and, when they make a pair, keeps it.
func (f *CertFiles) load() (*tls.Certificate, error) {
	certSt, err := os.Stat(f.CertPath)
	if err != nil {
		return nil, err
	}
	keySt, err := os.Stat(f.KeyPath)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(f.CertPath, f.KeyPath)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", f.CertPath, f.KeyPath, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", f.CertPath, err)
		}
	}
	f.mu.Lock()
	f.cert, f.certSt, f.keySt = &cert, certSt, keySt
	f.mu.Unlock()
	return &cert, nil
}

// Current is the pair in use.
func (f *CertFiles) Current() *tls.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert
}

// Reload reads the files again now, whether they changed or not, and
// reports the outcome to OnReload with reason.
func (f *CertFiles) Reload(reason string) error {
	cert, err := f.load()
	if f.OnReload != nil {
		f.OnReload(cert, reason, err)
	}
	return err
}

// GetCertificate is tls.Config's: the pair in use, read again first when
// the files changed since it was read.
func (f *CertFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	certSt, err1 := os.Stat(f.CertPath)
	keySt, err2 := os.Stat(f.KeyPath)
	f.mu.Lock()
	cur := f.cert
	changed := err1 == nil && err2 == nil && (differ(certSt, f.certSt) || differ(keySt, f.keySt))
	// A pair that failed is tried again only once either file changes
	// again: a broken renewal is reported once, not at every handshake.
	if changed && f.fail[0] != nil && !differ(certSt, f.fail[0]) && !differ(keySt, f.fail[1]) {
		changed = false
	}
	f.mu.Unlock()
	if !changed {
		return cur, nil
	}
	cert, err := f.load()
	if err != nil {
		f.mu.Lock()
		f.fail = [2]os.FileInfo{certSt, keySt}
		f.mu.Unlock()
		if f.OnReload != nil {
			f.OnReload(nil, "changed", err)
		}
		return cur, nil
	}
	f.mu.Lock()
	f.fail = [2]os.FileInfo{}
	f.mu.Unlock()
	if f.OnReload != nil {
		f.OnReload(cert, "changed", nil)
	}
	return cert, nil
}

// differ reports whether a file's state changed: another file under the
// name (a rename over it), another size or modification time.
func differ(a, b os.FileInfo) bool {
	return b == nil || !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}

// Config is a server's TLS configuration serving f's pair: TLS 1.2 and
// up, HTTP/1.1 only (WebSocket upgrades are HTTP/1.1's).
func (f *CertFiles) Config() *tls.Config {
	return &tls.Config{GetCertificate: f.GetCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
}

// Listener serves TLS with f's pair on ln.
func (f *CertFiles) Listener(ln net.Listener) net.Listener { return tls.NewListener(ln, f.Config()) }

// CertFields are an event's fields for a certificate: names (its DNS
// names and IP addresses), serial (hexadecimal) and not_after (when it
// expires).
func CertFields(cert *tls.Certificate) []any {
	if cert == nil || cert.Leaf == nil {
		return nil
	}
	names := append([]string{}, cert.Leaf.DNSNames...)
	for _, ip := range cert.Leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return []any{"names", names, "serial", cert.Leaf.SerialNumber.Text(16), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339)}
}
