package cli

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/testcert"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// reloads records what CertFiles told its OnReload.
type reloads struct {
	mu  sync.Mutex
	got []string
}

func (r *reloads) record(cert *tls.Certificate, reason string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := reason + " ok"
	if err != nil {
		s = reason + " failed"
	}
	r.got = append(r.got, s)
}

func (r *reloads) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// serial returns the serial number of the certificate a TLS server on
// addr presents to a client that trusts ca.
func serial(t *testing.T, addr string, ca *testcert.CA) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "node.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// A renewal swapped in while the server runs is served from the next
// handshake on; a broken one (a certificate without its key yet) leaves
// the old pair in use and is reported once; Reload reads the files
// whatever their state.
func TestCertFilesRenewal(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := testcert.NewCA(t)
	first := ca.Issue(t, "node.example", "127.0.0.1")
	first.Write(t, certPath, keyPath)
	f, err := LoadCertFiles(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	var r reloads
	f.OnReload = r.record
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := f.Listener(ln)
	defer tln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer tln.Close()
	wg.Add(1)
	go func() { // every connection: the handshake, then closed
		defer wg.Done()
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	if got := serial(t, addr, ca); got != first.Serial {
		t.Fatalf("serial %d, want %d", got, first.Serial)
	}

	second := ca.Issue(t, "node.example")
	second.Write(t, certPath, keyPath)
	if got := serial(t, addr, ca); got != second.Serial {
		t.Fatalf("after the renewal: serial %d, want %d", got, second.Serial)
	}

	// Half a renewal: the new certificate, the old key.
	third := ca.Issue(t, "node.example")
	testcert.WriteFile(t, certPath, third.CertPEM, 0o644)
	for range 3 {
		if got := serial(t, addr, ca); got != second.Serial {
			t.Fatalf("with a certificate and a key that do not match: serial %d, want the previous %d", got, second.Serial)
		}
	}
	testcert.WriteFile(t, keyPath, third.KeyPEM, 0o600)
	if got := serial(t, addr, ca); got != third.Serial {
		t.Fatalf("once the key came: serial %d, want %d", got, third.Serial)
	}
	if err := f.Reload("sighup"); err != nil {
		t.Fatal(err)
	}
	os.Remove(keyPath)
	if err := f.Reload("sighup"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Reload without a key: %v", err)
	}
	if got := serial(t, addr, ca); got != third.Serial {
		t.Fatalf("without a key file: serial %d, want the previous %d", got, third.Serial)
	}
	want := []string{"changed ok", "changed failed", "changed ok", "sighup ok", "sighup failed"}
	if got := r.list(); !slices.Equal(got, want) {
		t.Fatalf("OnReload got %q, want %q", got, want)
	}
	if names := CertFields(f.Current()); names[1].([]string)[0] != "node.example" {
		t.Fatalf("CertFields %v", names)
	}
}

// A pair that does not load is refused at start, naming the file.
func TestLoadCertFilesErrors(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := testcert.NewCA(t)
	a, b := ca.Issue(t, "a.example"), ca.Issue(t, "b.example")
	if _, err := LoadCertFiles(certPath, keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing files: %v", err)
	}
	testcert.WriteFile(t, certPath, a.CertPEM, 0o644)
	testcert.WriteFile(t, keyPath, b.KeyPEM, 0o600)
	if _, err := LoadCertFiles(certPath, keyPath); err == nil {
		t.Fatal("a certificate and another's key loaded")
	}
	testcert.WriteFile(t, keyPath, []byte("garbage"), 0o600)
	if _, err := LoadCertFiles(certPath, keyPath); err == nil {
		t.Fatal("a garbage key loaded")
	}
}
