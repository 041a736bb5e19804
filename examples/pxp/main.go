// Command pxp is the README's PXP example: a node of network "my-app"
// joins through one peer (-connect), meets a peer of that peer with
// GetNewPeer, and trades a line of text with each.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
)

func main() {
	connect := flag.String("connect", "127.0.0.1:7000", "a peer to join through")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *connect); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, connect string) error {
	ex, err := pxp.New("my-app", nil) // nil Config: the defaults
	if err != nil {
		return err
	}
	defer ex.Close()

	// Events never block the protocol (dropped and counted when unread).
	go func() {
		for ev := range ex.Events() {
			log.Println("event:", ev.Type, ev.Peer, ev.Err)
		}
	}()
	// Peers introduced to this node by others arrive here.
	go func() {
		for conn := range ex.Incoming() {
			go greet(conn)
		}
	}()

	// Outgoing: you dial, pex runs the protocol over your connection.
	c, err := net.DialTimeout("tcp", connect, 10*time.Second)
	if err != nil {
		return err
	}
	conn, err := ex.Connect(ctx, c) // conn is the data stream, a net.Conn
	if err != nil {
		return err
	}
	greet(conn)

	// Meet a peer of a peer, introduced through the first one.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err = ex.GetNewPeer(ctx)
	if err != nil {
		return err
	}
	fmt.Println("met", conn.Peer().ID(), "over", conn.Transport())
	greet(conn)
	return nil
}

// greet writes a line on a data stream and prints the first line read.
func greet(conn *pxp.Conn) {
	fmt.Fprintln(conn, "hello")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		log.Println("read:", err)
		return
	}
	fmt.Printf("%s said %q\n", conn.Peer().ID(), line)
}
