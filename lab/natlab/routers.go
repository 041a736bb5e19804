// Routers: the kinds of router a home network sits behind, their nftables
// rules, and the UPnP router's miniupnpd.

package natlab

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"time"
)

// Router is how a home network's router treats traffic.
type Router int

func (r Router) String() string {
	return [...]string{"public", "eim", "forward", "symmetric", "firewall", "upnp"}[r]
}

// upnpNet is the public prefix of UPnP routers' WAN side.
var upnpNet = netip.MustParsePrefix("2.0.0.0/24")

type daemon struct {
	cmd *exec.Cmd
	log string // its output, shown when the test failed
}

// rules is a router's nftables ruleset. Like a home router, it drops what
// arrives unsolicited on its WAN side for itself: besides being the usual
// setting, this matters to hole punching. A packet the router accepted for
// itself leaves a connection-tracking entry (for 30 s, renewed by each
// packet) that takes the tuple the host's own mapping needs, so that the
// host's next packet to that peer leaves from another port; a dropped
// packet leaves none.
//
// The filter table is inet: for IPv6 (host6 valid), which has no NAT, it
// is the stateful firewall of an IPv6 home router, with neighbour
// discovery let through and a Forward router's port opened.
func rules(r Router, host, host6 netip.Addr, port int) string {
	var b bytes.Buffer
	b.WriteString(`table inet filter {
  chain input {
    type filter hook input priority 0; policy accept;
    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
    iifname "lan" oifname "wan" accept
`)
	if r == Forward && host6.IsValid() {
		fmt.Fprintf(&b, "    iifname \"wan\" ip6 daddr %s meta l4proto { tcp, udp } th dport %d accept\n", host6, port)
	}
	if r == Forward || r == UPnP {
		b.WriteString("    ct status dnat accept\n")
	}
	if r == UPnP {
		b.WriteString("    jump miniupnpd\n  }\n  chain miniupnpd {\n")
	}
	b.WriteString("  }\n}\n")
	switch r {
	case UPnP:
		// miniupnpd adds its rules to these chains (family inet, as its
		// nftables backend expects).
		b.WriteString(`table inet nat {
  chain prerouting {
    type nat hook prerouting priority -100;
    jump prerouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting {
    type nat hook postrouting priority 100;
    jump postrouting_miniupnpd
    meta nfproto ipv4 oifname "wan" masquerade
  }
  chain postrouting_miniupnpd {
  }
}
`)
	case EIM, Forward:
		b.WriteString(`table ip nat {
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "wan" masquerade
  }
`)
		if r == Forward {
			fmt.Fprintf(&b, `  chain prerouting {
    type nat hook prerouting priority -100;
    iifname "wan" udp dport %[1]d dnat to %[2]s:%[1]d
    iifname "wan" tcp dport %[1]d dnat to %[2]s:%[1]d
  }
`, port, host)
		}
		b.WriteString("}\n")
	case Symmetric:
		b.WriteString(`table ip nat {
  chain postrouting {
    type nat hook postrouting priority 100;
    oifname "wan" masquerade random,fully-random
  }
}
`)
	}
	return b.String()
}

// miniupnpd runs miniupnpd in router ns, serving the LAN at lan, until
// the lab closes.
func (l *Lab) miniupnpd(ns string, lan netip.Addr) {
	l.t.Helper()
	if _, err := exec.LookPath("miniupnpd"); err != nil {
		l.t.Fatalf("natlab: miniupnpd is not installed (Debian: miniupnpd-nftables)")
	}
	dir := l.t.TempDir()
	conf := fmt.Sprintf(`ext_ifname=wan
listening_ip=lan
port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=no
notify_interval=60
upnp_table_name=filter
upnp_nat_table_name=nat
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid=3b5f1a4c-1111-2222-3333-%012d
allow 1024-65535 %s/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
`, len(l.names), lan)
	path := dir + "/miniupnpd.conf"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "miniupnpd", "-d", "-f", path, "-P", dir+"/miniupnpd.pid")
	log, err := os.Create(dir + "/miniupnpd.log")
	if err != nil {
		l.t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("natlab: miniupnpd: %v", err)
	}
	l.mu.Lock()
	l.daemons = append(l.daemons, daemon{cmd: cmd, log: log.Name()})
	l.mu.Unlock()
	// Ready once it says it listens for NAT-PMP (bounded wait).
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(log.Name()); bytes.Contains(b, []byte("Listening for NAT-PMP")) {
			return
		}
	}
	b, _ := os.ReadFile(log.Name())
	l.t.Fatalf("natlab: miniupnpd did not start:\n%s", b)
}
