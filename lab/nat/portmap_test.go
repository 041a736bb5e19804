package nat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/portmap"
)

// helper runs the test binary's helper modes inside lab namespaces, and
// reports whether it ran one.
func helper() bool {
	switch os.Getenv("NAT_HELPER") {
	case "portmap":
		portmapHelper()
		return true
	case "turnalloc":
		turnAllocHelper()
		return true
	case "dial":
		c, err := net.DialTimeout("tcp", os.Args[len(os.Args)-1], 2*time.Second)
		if err == nil {
			c.Close()
		}
		fmt.Println(err == nil)
		return true
	}
	return false
}

// portmapHelper listens on a TCP port, maps it with the method named in
// NAT_METHOD, prints the mapping, and removes it when stdin closes.
func portmapHelper() {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	m, err := portmap.Map(context.Background(), "tcp", port, &portmap.Config{Methods: []string{os.Getenv("NAT_METHOD")}})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	out, _ := json.Marshal(map[string]any{"method": m.Method, "external": m.External.String(), "internal": m.Internal})
	fmt.Println(string(out))
	bufio.NewReader(os.Stdin).ReadString('\n')
	m.Close()
	fmt.Println("removed")
}

// Every way of mapping works against miniupnpd: the mapped port is
// reachable from the internet while the mapping lives, and not after
// Close removed it.
func TestPortmapAgainstMiniupnpd(t *testing.T) {
	l := natlab.New(t)
	stranger := l.PublicHost("stranger")
	home := l.HomeHost("pm", natlab.UPnP, 0)
	self, _ := os.Executable()
	reach := func(addr string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := stranger.Command(ctx, self, addr)
		cmd.Env = append(os.Environ(), "NAT_HELPER=dial")
		out, _ := cmd.Output()
		return string(out) == "true\n"
	}
	for _, method := range []string{portmap.MethodNATPMP, portmap.MethodPCP, portmap.MethodUPnP} {
		t.Run(method, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := home.Command(ctx, self)
			cmd.Env = append(os.Environ(), "NAT_HELPER=portmap", "NAT_METHOD="+method)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			sc := bufio.NewScanner(stdout)
			if !sc.Scan() {
				t.Fatal("the helper said nothing")
			}
			var m struct {
				Method, External string
				Internal         int
			}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("the helper said %q", sc.Text())
			}
			ap, _ := net.ResolveTCPAddr("tcp", m.External)
			if m.Method != method || ap == nil || ap.IP.String() != home.Public.String() {
				t.Fatalf("mapping %+v; want %s at %s", m, method, home.Public)
			}
			if !reach(m.External) {
				t.Fatalf("the mapped port %s is not reachable", m.External)
			}
			stdin.Close()
			if !sc.Scan() || sc.Text() != "removed" {
				t.Fatalf("the helper said %q", sc.Text())
			}
			if reach(m.External) {
				t.Fatalf("%s still reachable after Close", m.External)
			}
		})
	}
}
