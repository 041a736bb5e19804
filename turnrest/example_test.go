package turnrest_test

import (
	"fmt"
	"time"

	"github.com/seed0021ed4d/pex/turnrest"
)

// A web service mints a credential for a page; the TURN server, holding
// the same secret, checks it.
func Example() {
	secret := []byte("north-wind-0123456789abcdef") // from a file, in practice
	c := turnrest.Mint(secret, "alice", time.Unix(1700000000, 0))
	fmt.Println(c.Username, c.Password)

	name, err := turnrest.Check(secret, c.Username, c.Password, time.Unix(1699990000, 0))
	fmt.Println(name, err)
	_, err = turnrest.Check(secret, c.Username, c.Password, time.Unix(1700000001, 0))
	fmt.Println(err)
	// Output:
	// 1700000000:alice yjTHIxKMlGWcpTFGO8z+GcYCjLo=
	// alice <nil>
	// turnrest: credential expired at 2023-11-14T22:13:20Z
}
