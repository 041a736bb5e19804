// Package nginx runs Debian's nginx in tests as the reverse proxy in
// front of pex node --http: terminating TLS, proxying the page and its
// WebSocket endpoint, and telling the node each client's address in
// X-Forwarded-For. It runs as a process of the test's own (no daemon),
// with its configuration, pid file, logs and temporary files in a
// directory of the test's, listening where the test says.
//
// Location is the configuration operators are shown (README.md,
// docs/operating.md): the tests run exactly it, and a test holds the
// documents to it.
package nginx

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Location is the part of an nginx server block that proxies a pex
// node's --http (the page, /ws and /live): UPSTREAM is the node's
// address. The Upgrade and Connection headers carry WebSocket upgrades
// through; X-Forwarded-For, which nginx appends the client's address to,
// is what the node reads with --trusted-proxy; a Forwarded header a
// client sent itself is dropped, so that it never reaches the node beside
// the one nginx writes; WebSocket links idle for an hour are not cut.
const Location = `location / {
    proxy_pass http://UPSTREAM;
    proxy_http_version 1.1;
    proxy_set_header Host $host;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header Forwarded "";
    proxy_read_timeout 1h;
    proxy_send_timeout 1h;
}`

// Upgrade is the map the Connection header of Location comes from: "upgrade"
// for a WebSocket request, "close" for others. It goes in the http block.
const Upgrade = `map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}`

// Config is one nginx in front of one node.
type Config struct {
	// Listen is the HOST:PORT nginx listens on.
	Listen string
	// ServerName is the server's name (the certificate's).
	ServerName string
	// CertFile and KeyFile are the server's certificate and key, PEM.
	CertFile, KeyFile string
	// Upstream is the node's --http HOST:PORT.
	Upstream string
}

// Conf is the whole configuration file for c, its paths under dir.
func (c Config) Conf(dir string) string {
	loc := strings.ReplaceAll(Location, "UPSTREAM", c.Upstream)
	return fmt.Sprintf(`# Written by lab/nginx for one test.
# The workers run as root: the test's directory is root's alone.
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
%[2]s
    server {
        listen %[3]s ssl;
        server_name %[4]s;
        ssl_certificate %[5]s;
        ssl_certificate_key %[6]s;
%[7]s
    }
}
`, dir, indent(Upgrade, "    "), c.Listen, c.ServerName, c.CertFile, c.KeyFile, indent(loc, "        "))
}

func indent(s, by string) string {
	return by + strings.ReplaceAll(s, "\n", "\n"+by)
}

// Binary is nginx's path; the test is skipped without it (or fails,
// under CI=true).
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("nginx")
	if err != nil {
		for _, c := range []string{"/usr/sbin/nginx", "/sbin/nginx"} {
			if _, serr := os.Stat(c); serr == nil {
				return c
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed (Debian: nginx)")
		}
		t.Skip("nginx is not installed (Debian: nginx)")
	}
	return p
}

// Command makes the command that runs a program (exec.CommandContext, or
// a lab host's Command).
type Command func(ctx context.Context, name string, args ...string) *exec.Cmd

// Start runs nginx with c until the test ends (with command, or on this
// machine when it is nil); it returns once nginx answers on c.Listen or
// fails the test, showing nginx's error log.
func Start(t testing.TB, c Config, command Command) {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(c.Conf(dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	if command == nil {
		command = exec.CommandContext
	}
	args := []string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;"}
	if out, err := command(context.Background(), bin, append([]string{"-t"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, c.Conf(dir))
	}
	cmd := command(context.Background(), bin, args...)
	out, err := os.Create(filepath.Join(dir, "nginx.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt) // nginx's fast shutdown; the process this test started, by its id
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx's error log:\n%s", tail(string(log), 4000))
		}
	})
	// nginx writes its pid in its pid file once it listens (nginx -t
	// left the file there, empty).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "nginx.pid")); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid) {
			return
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited at start:\n%s", log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nginx did not start within 10 s")
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
