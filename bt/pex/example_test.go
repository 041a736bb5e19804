package pex_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
)

// A Sender decides what to tell a peer, a Receiver holds the peer on the
// other side to libtorrent's rule, and the codec carries the message.
func Example() {
	connected := []pex.Peer{
		{Addr: netip.MustParseAddrPort("192.0.2.1:6881"), Flags: pex.FlagReachable},
		{Addr: netip.MustParseAddrPort("[2001:db8::7]:51413")},
	}
	receiver := netip.MustParseAddrPort("192.0.2.99:6881")

	s := pex.NewSender(nil) // BEP 11: 50 added, 50 dropped, a message a minute
	var m pex.Msg
	now := time.Now()
	if !s.Next(now, connected, receiver, &m) {
		return
	}
	payload, _ := pex.Append(nil, &m)

	r := pex.NewReceiver(nil) // libtorrent's rule: a 7th message within 60 s is a flood
	added, dropped, err := r.Receive(now, payload, receiver)
	fmt.Println(len(payload), "bytes;", len(added), "added,", len(dropped), "dropped,", err)
	for _, p := range added {
		fmt.Println(p.Addr, p.Flags&pex.FlagReachable != 0)
	}
	fmt.Println("next message due in", s.Due().Sub(now))
	// Output:
	// 94 bytes; 2 added, 0 dropped, <nil>
	// 192.0.2.1:6881 true
	// [2001:db8::7]:51413 false
	// next message due in 1m0s
}
