package holepunch_test

import (
	"fmt"
	"net/netip"

	"github.com/seed0021ed4d/pex/bt/holepunch"
)

// A relay that is not connected to the target answers a rendezvous with an
// error message; the initiator parses it.
func Example() {
	rendezvous, _ := holepunch.Append(nil, holepunch.Msg{
		Type: holepunch.Rendezvous,
		Addr: netip.MustParseAddrPort("198.51.100.4:6881"),
	})
	fmt.Printf("% x\n", rendezvous)

	// On the relay.
	req, err := holepunch.Parse(rendezvous)
	if err != nil {
		return
	}
	reply, _ := holepunch.Append(nil, holepunch.Msg{Type: holepunch.Error, Addr: req.Addr, Err: holepunch.NotConnected})

	// Back on the initiator.
	m, err := holepunch.Parse(reply)
	fmt.Println(m.Type, m.Addr, m.Err, err)
	// Output:
	// 00 00 c6 33 64 04 1a e1 00 00 00 00
	// error 198.51.100.4:6881 not-connected <nil>
}
