// Package utp carries BitTorrent connections over uTP (BEP 29), the
// transport that lets peers behind home routers reach each other: a UDP
// socket, on the same port number as the TCP listener, that accepts and
// dials uTP connections, each a net.Conn the swarm runs exactly as it runs
// a TCP one (MSE, both PEX networks, every handshake bound).
//
// The congestion control and the retransmissions are libutp's, the
// reference implementation that libtorrent's own uTP descends from,
// through github.com/anacrolix/go-libutp (cgo; what anacrolix/torrent
// ships). docs/utp.md says why, with the measurements. A build without
// cgo (CGO_ENABLED=0) has no uTP: Listen returns ErrUnsupported and
// Supported reports false, and the swarm stays on TCP.
//
// Hole punching (BEP 55) needs two things of the socket beyond a plain
// listener: outgoing connections leave from the listen port, so that a
// relay that sees a peer's link sees the address that peer can be reached
// at, and Punch sends a datagram that opens the way through the local
// router before a connection is tried.
package utp
