// Package holepunch is the message codec of ut_holepunch, BitTorrent's
// Holepunch extension (BEP 55, https://www.bittorrent.org/beps/bep_0055.html):
// the three messages by which a peer asks a peer it is connected to (the
// relay) to introduce it to a third one that cannot accept connections, so
// that both open a uTP connection to each other at once. The package holds
// the byte layout only, with no engine; it depends on the standard library
// alone, and neither allocates nor panics.
//
// # Wire format
//
// A ut_holepunch message is the payload of an LTEP message (BEP 10:
// BitTorrent message id 20, then the extended id the receiver chose for
// "ut_holepunch" in the m dictionary of its extended handshake, then this
// payload). It has a fixed layout, all integers big endian:
//
//	msg_type   1 byte    0x00 rendezvous, 0x01 connect, 0x02 error
//	addr_type  1 byte    0x00 IPv4, 0x01 IPv6
//	addr       4 bytes (IPv4) or 16 bytes (IPv6)
//	port       2 bytes
//	err_code   4 bytes   0 except in an error message
//
// so a message is 12 bytes long with an IPv4 address and 24 with an IPv6
// one (MaxSize). The messages:
//
//	rendezvous  initiator to relay: connect me to this endpoint
//	connect     relay to both ends: start a uTP connection to this endpoint
//	error       relay to initiator: the rendezvous for this endpoint failed
//
// An error message names one of four codes: 0x01 the endpoint is not a
// valid target (NoSuchPeer), 0x02 the relay has no connection to it
// (NotConnected), 0x03 it does not support ut_holepunch (NoSupport), 0x04 it
// is the relay itself (NoSelf).
//
// Parse holds a payload to that layout exactly: its length must be the one
// its addr_type calls for, and its msg_type and addr_type must be known
// values. It is liberal in two places, where the meaning is plain: an
// err_code on a message that is not an error is ignored, and an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) comes back as the IPv4 address
// a.b.c.d, the rule package bt/compact keeps for every peer address. Append
// is strict: it writes IPv4-mapped addresses in the IPv4 form, and zero as
// the err_code of any message but an error.
package holepunch
