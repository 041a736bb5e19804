package mux_test

import (
	"fmt"
	"io"
	"net"

	"github.com/seed0021ed4d/pex/mux"
)

// Two sessions over one pipe share a stream by name: each side writes on
// its own channel called "chat" and reads the other side's.
func Example() {
	a, b := net.Pipe()
	left := mux.NewSession(a, nil)
	right := mux.NewSession(b, nil)
	defer left.Close()
	defer right.Close()

	ls, _ := left.Stream("chat")
	rs, _ := right.Stream("chat")
	go func() {
		ls.Write([]byte("hello"))
		ls.CloseWrite() // END: the other side reads io.EOF
	}()
	got, _ := io.ReadAll(rs)
	fmt.Printf("%s\n", got)
	// Output: hello
}
