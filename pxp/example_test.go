package pxp_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
)

// Two nodes on loopback: one listens and takes the streams peers open to
// it from Incoming, the other connects, and a line crosses their data
// stream.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	server, _ := pxp.New("my-app", nil)
	defer server.Close() // closes ln too
	go server.Serve(ln)
	go func() {
		// Every stream a peer opens to the server arrives here: those of
		// the links Serve accepts and those of peers introduced to it.
		for conn := range server.Incoming() {
			go fmt.Fprintln(conn, "hello from the listener")
		}
	}()

	client, _ := pxp.New("my-app", nil)
	defer client.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := client.Connect(ctx, c)
	if err != nil {
		panic(err)
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	fmt.Print(line)
	fmt.Println("transport:", conn.Transport())
	// Output:
	// hello from the listener
	// transport: tcp
}

// Accept runs the incoming side over one connection the application
// accepted itself (usually one that comes with no net.Listener to give
// Serve, such as a WebSocket handler's; here a TCP connection, to keep the
// example short) and returns that link's stream to its caller.
func ExampleExchange_Accept() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	server, _ := pxp.New("my-app", nil)
	defer server.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conn, err := server.Accept(context.Background(), c)
		if err != nil {
			return
		}
		fmt.Fprintln(conn, "hello from the accepting side")
	}()

	client, _ := pxp.New("my-app", nil)
	defer client.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := client.Connect(ctx, c)
	if err != nil {
		panic(err)
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	fmt.Print(line)
	// Output:
	// hello from the accepting side
}

// GetNewPeer meets a peer of a peer. Here b and c know only the hub; b asks
// the hub for a new peer and is introduced to c, which receives the link on
// Incoming.
func ExampleExchange_GetNewPeer() {
	hub, _ := pxp.New("my-app", nil)
	b, _ := pxp.New("my-app", nil)
	c, _ := pxp.New("my-app", nil)
	defer hub.Close()
	defer b.Close()
	defer c.Close()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go hub.Serve(ln) // hub.Close closes ln
	go func() {
		for conn := range hub.Incoming() {
			conn.Close() // the hub only introduces; its links stay up
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ex := range []*pxp.Exchange{b, c} {
		conn, _ := net.Dial("tcp", ln.Addr().String())
		if _, err := ex.Connect(ctx, conn); err != nil {
			panic(err)
		}
	}

	toC, err := b.GetNewPeer(ctx)
	if err != nil {
		panic(err)
	}
	fromB := <-c.Incoming()
	fmt.Fprintln(toC, "hi c, this is b")
	line, _ := bufio.NewReader(fromB).ReadString('\n')
	fmt.Print(line)
	fmt.Println("b met c:", toC.Peer().ID() == c.ID(), "via", toC.Transport())
	// Output:
	// hi c, this is b
	// b met c: true via relay
}
