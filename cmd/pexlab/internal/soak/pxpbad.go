package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/wire"
	"github.com/seed0021ed4d/pex/transport/ws"
)

// badHold is the longest a misbehaving client holds its connection,
// waiting for the node to close it: past the node's 10 s handshake
// timeout.
const badHold = 20 * time.Second

// pxpBadKinds are the misbehaving clients of the relay, one after
// another in each slot:
//
//	garbage        random bytes over TCP
//	garbage-ws     random bytes in WebSocket messages
//	half-hello     the magic and half a frame, then nothing
//	silent         a TCP connection that says nothing
//	silent-ws      a WebSocket that says nothing
//	flood          a hello, then 2,000 getpeers at once (answered with
//	               errors, then cut off for flooding)
//	other-network  a hello of another network
//	deaf           a link that writes 1 MiB of lines on its data stream,
//	               which the relay echoes, and never reads
var pxpBadKinds = []string{"garbage", "garbage-ws", "half-hello", "silent", "silent-ws", "flood", "other-network", "deaf"}

// misbehave runs one misbehaving client, of the next kind.
func (p *pxpPop) misbehave(ctx context.Context, rng *rand.Rand) {
	kind := pxpBadKinds[int(p.badRuns.Add(1)-1)%len(pxpBadKinds)]
	ip, ok := take(ctx, p.bads)
	if !ok {
		return
	}
	defer p.bads.give(ip)
	var c net.Conn
	var err error
	if kind == "garbage-ws" || kind == "silent-ws" {
		d := ws.Dialer{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer(ip).DialContext}}}
		c, err = d.Dial(ctx, "ws://"+p.ws+"/")
	} else {
		c, err = dialer(ip).DialContext(ctx, "tcp", p.tcp)
	}
	if err != nil {
		sleep(ctx, time.Second)
		return
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	p.n.misbehaved.Add(1)
	c.SetWriteDeadline(time.Now().Add(badHold))
	switch kind {
	case "garbage", "garbage-ws":
		c.Write(garbage(rng, 4096))
	case "half-hello":
		c.Write(append([]byte(wire.Magic), mux.TypeNew, 3))
	case "flood":
		b := pxpHello(pxpNetwork)
		for i := range 2000 {
			b = append(b, pxpLine(fmt.Sprintf(`["getpeers","%d","%s"]`, i+2, pxpNetwork))...)
		}
		go c.Write(b) // the node stops reading when it cuts the client off
	case "other-network":
		c.Write(pxpHello("not-" + pxpNetwork))
	case "deaf":
		b := append(pxpHello(pxpNetwork), mux.AppendFrame(nil, 1, mux.TypeNew, []byte("data:"+pxpNetwork))...)
		line := make([]byte, 1023, 1024)
		for i := range line {
			line[i] = 'x'
		}
		line = append(line, '\n')
		for range 1024 {
			b = mux.AppendFrame(b, 1, mux.TypeDataInit, line)
		}
		go c.Write(b)
		if sleep(ctx, badHold) {
			c.Close()
			return
		}
	}
	if holdUntilClosed(c, badHold) {
		p.n.cutOff.Add(1)
	}
}

// pxpHello is the magic, the control stream, a hello of network (taking
// introductions) and a connect.
func pxpHello(network string) []byte {
	b := []byte(wire.Magic)
	b = mux.AppendFrame(b, 0, mux.TypeNew, []byte(wire.ControlStream))
	b = append(b, pxpLine(fmt.Sprintf(`["hello","0",[1,{"pxp":true,"relay":true},["%s"]]]`, network))...)
	return append(b, pxpLine(fmt.Sprintf(`["connect","1","%s"]`, network))...)
}

// pxpLine is a control message line on the control stream.
func pxpLine(s string) []byte {
	return mux.AppendFrame(nil, 0, mux.TypeDataInit, []byte(s+"\n"))
}
