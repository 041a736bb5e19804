// Package pxp implements the Peer Exchange Protocol of the npm package
// peer-exchange 2.2.0: a node holds links to peers, learns new peers from
// the ones it has, and meets them through a relaying peer.
//
// An Exchange serves one network id. The application hands it connections
// and gets back the data stream of each link as a *Conn, a net.Conn.
//
// # Receiving streams
//
// A stream this node asks for is returned by the call that asked:
// Connect runs the outgoing side over a connection the application
// dialed, and GetNewPeer asks a connected peer for candidates and connects
// to one of them through that peer.
//
// Every stream a peer opens to this node arrives on one channel,
// Exchange.Incoming, which is to an Exchange what Accept is to a
// net.Listener: range over it and serve each stream in a goroutine of its
// own. Two things feed it: Serve, an accept loop that runs the incoming
// side over every connection of a net.Listener, and the peers introduced to
// this node by a relay, which need no listener at all. A program that
// listens is then
//
//	go ex.Serve(ln) // ex.Close closes ln
//	for conn := range ex.Incoming() {
//		go handle(conn)
//	}
//
// Accept is the handshake Serve runs on each connection: call it yourself
// only for a connection that does not come from a net.Listener (a
// WebSocket handler's, say); it returns the stream to its caller, as
// Connect does, and the stream does not arrive on Incoming.
//
// # Wire format
//
// Each direction of a transport starts with a magic, then the multiplex
// framing of package mux carries named streams: "pxp" for the control
// messages (JSON arrays, one a line), "data:<network>" for the
// application's bytes, and "relay:<id>" for the nested sessions of
// introductions. Package pxp/wire holds that byte layout and describes it.
//
// # Differences from the reference
//
// Every request has a deadline (Config.RequestTimeout) and every handshake
// one (Config.HandshakeTimeout). A malformed message closes only the link
// that sent it; an unknown command is ignored; a request that cannot be
// served (unknown network or candidate, a limit reached) gets an error
// response and the link stays up. getpeers returns a bounded random sample;
// candidates with a null connectInfo are skipped (defect B3); a link enters
// the peer list only after a valid magic and hello (B5); relay streams are
// closed with END only, never ERROR (B1), and an ERROR on one channel ends
// only that channel. Peers, relays, pending introductions, candidate ids,
// line length and frame size are all bounded (see Config).
//
// The byte-level description with captured traffic is docs/pxp-wire.md in
// this repository (docs/pxp-capture.txt holds the frames).
//
// # Private networks
//
// With Config.NetworkKey set, every direct transport first runs a Noise
// handshake that proves both ends hold the key (package pxp/psk), and the
// bytes above travel inside it, encrypted; peers without the key are
// refused with ErrNetworkKey. Without a key nothing changes on the wire.
package pxp
