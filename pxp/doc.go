// Package pxp implements the Peer Exchange Protocol of the npm package
// peer-exchange 2.2.0: a node holds links to peers, learns new peers from
// the ones it has, and meets them through a relaying peer.
//
// An Exchange serves one network id. The application hands it connections
// (Connect for the side that dialed, Accept for the side that listened) and
// gets back the data stream of each link as a *Conn. GetNewPeer asks a
// connected peer for candidates and connects to one of them through that
// peer; peers introduced to this node the same way arrive on Incoming.
//
// # Wire format
//
// Each direction of a transport starts with the five bytes "#PXP#"
// (23 50 58 50 23), written at once without waiting for the peer. Then the
// multiplex framing of package mux carries named streams:
//
//	"pxp"            control messages, one JSON array and "\n" each
//	"data:<network>" the application's byte stream
//	"relay:<id>"     a raw pipe through a relay, carrying a whole nested
//	                 PXP session (magic, framing, hello, ...)
//
// A control message is [command, nonce, args]. The nonce is a string: each
// side counts its requests from 0 in base 36, hello taking "0"; a response is
// ["res", <the request's nonce>, result]. Commands and their arguments:
//
//	hello    [1, connectInfo, [networks...]]  first message each way, never answered
//	getpeers "<network>"       -> [null, [{"id","network","connectInfo"}...]] or ["<error>"]
//	relay    ["<candidate id>"] -> null once the destination accepted, or "<error>"
//	incoming ["<relay id>"]     -> null; the relay then splices the two relay streams
//	connect  "<network>"        -> null, or "<error>"; opens data:<network> both ways
//	upgrade  {"transport":"webrtc","signal":...}  signaling over a nested session, never answered
//
// connectInfo is {"pxp":true,"relay":true,"webrtc":...} for a node that takes
// introductions and null for one that does not. Go nodes add "id", a random
// node id, so that two Go nodes never link twice; JS nodes ignore it.
// Lines are split on "\n" or "\r\n"; empty lines are skipped.
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
package pxp
