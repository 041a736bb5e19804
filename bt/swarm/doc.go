// Package swarm is pex's BitTorrent engine for peer exchange: it dials the
// peers it learns, accepts incoming ones, and runs peer exchange on every
// connection over the network the peer speaks: Vuze's AZ_PEER_EXCHANGE
// (package bt/azmp) with peers that prefer AZMP in the handshake, as BiglyBT
// does, and ut_pex (BEP 11, over the extension protocol of BEP 10) with the
// others. Both share one peer set: it tells each peer about the other
// connected peers whose listen addresses it knows, whichever network it
// learned them from, within BEP 11's limits (50 added and 50 dropped a
// message, a message a minute), and holds each peer to the limits of its
// network (package bt/pex's rules). It transfers no pieces: it is a
// peer-exchange participant, not a downloader.
//
// The files follow one message's way: conn.go runs a connection (the
// BitTorrent handshake, then the read loop and the send timer), ltep.go and
// azmp.go are the two PEX networks behind one small interface, and
// peerset.go decides, under one lock, which learned peers to take and dial.
// A peer a full swarm turns away, or lets go to make room for a newcomer,
// leaves with one PEX message naming peers the swarm has (referral.go).
// With a uTP socket (UseUTP, package bt/utp) peers are dialed over uTP
// first, from the listen port, then over TCP (dial.go), and the swarm
// takes part in hole punching (BEP 55) as initiator, relay and target
// (holepunch*.go, bounded by Config.Holepunch); two links to one peer are
// reduced to one that both sides agree on (dedup.go).
// Peer sources (trackers, the DHT) are given with AddSource. A link whose
// handshakes fail is reported with why, as EventDialFailed (dialed) or
// EventDisconnected with Handshaking set (incoming), its Err wrapping one
// of errors.go's: ErrWrongInfoHash, ErrNotBitTorrent, ErrMSEFailed,
// ErrClosedEarly, ErrHandshakeTimeout.
package swarm
