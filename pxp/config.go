package pxp

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"time"

	"github.com/seed0021ed4d/pex/pxp/psk"
)

// Config tunes an Exchange. The zero value (or a nil *Config) means the
// defaults given per field; DefaultConfig returns them filled in.
type Config struct {
	// RefuseIncoming makes the node refuse introductions: its hello carries
	// connectInfo null (as the JS option allowIncoming:false does) and
	// `incoming` requests are answered with an error.
	RefuseIncoming bool

	// MaxPeers bounds connected peers. Default 64.
	MaxPeers int
	// ReservedOutbound of MaxPeers' slots are kept for links this node
	// opens (Connect, GetNewPeer): incoming links take at most
	// MaxPeers-ReservedOutbound, so peers that dial in cannot crowd out the
	// ones this node chose. Past them, a link this node opens when every
	// slot is taken takes the slot of an incoming link (the most idle of
	// the prefix holding the most incoming links, its two
	// longest-connected spared when it holds more than two), which is
	// closed with ErrEvicted: a crowd that dialed in cannot keep a node
	// from choosing its peers. Default MaxPeers/8 (8 of the default 64
	// peers); negative means none.
	ReservedOutbound int
	// MaxOutboundPerRelay and MaxOutboundPerPrefix spread the links
	// GetNewPeer opens over the relays that introduce them and over
	// network prefixes, so that one relay, or one crowd of addresses,
	// cannot choose all of a node's peers while others can (outbound.go).
	// A relay that introduced MaxOutboundPerRelay of this node's live
	// links is asked only when no relay under its cap gave a link (up to
	// eight of those asked, four more than when none is capped), and a
	// candidate in a prefix already holding MaxOutboundPerPrefix of this
	// node's outgoing links only when no relay asked offered one
	// elsewhere (those holding fewer are tried first): a node whose only
	// relay is its bootstrap, or a network on one machine or one LAN,
	// still grows. A candidate's prefix is that of the address it
	// advertises; those advertising none are counted in one prefix of
	// their own, with the relayed sessions. Links opened with Connect are
	// the application's choice: they count toward the prefixes, and are
	// never refused. The link this node has held longest (its bootstrap,
	// in practice) is not held to MaxOutboundPerRelay: it is asked first
	// (chosen.go), and a node whose first few links from it all went to
	// a crowd would otherwise take every later one from that crowd's
	// answers. Defaults 4 and 2; negative means no cap.
	MaxOutboundPerRelay, MaxOutboundPerPrefix int
	// InboundRelays and InboundCandidates turn off two defences against
	// peers that dial in (chosen.go): anyone can make a node take an
	// incoming link, so by default GetNewPeer asks the links this node
	// opened itself (Connect, GetNewPeer) for candidates, the one held
	// longest first, and incoming links only after those brought no new
	// link; and a getpeers answer lists this node's outgoing links
	// first, filling the rest from incoming ones. InboundRelays draws
	// the relays asked from every peer alike; InboundCandidates samples
	// every peer alike.
	InboundRelays, InboundCandidates bool
	// RelayFailures, RelayBackoff and MaxRelayBackoff take standing from
	// a relay that brings no new link (standing.go): after RelayFailures
	// introductions in a row through one link that ended in none (its
	// getpeers failed, it named no usable candidate, or every candidate
	// tried failed, a relay it refused among them), GetNewPeer leaves
	// that link out for RelayBackoff while any other link can be asked;
	// asked again after that, its next failure holds it back again for
	// twice as long, up to MaxRelayBackoff; a new link through it
	// restores it. Failures this node causes (it is
	// full or closing, the caller gave up, its prefix caps) are not
	// counted. Defaults 3, 30 s and 10 min; RelayFailures negative turns
	// the rule off.
	RelayFailures                 int
	RelayBackoff, MaxRelayBackoff time.Duration
	// PrefixBits4 and PrefixBits6 group peers into network prefixes (/24
	// of IPv4 and /48 of IPv6 by default): candidates for getpeers and the
	// relays GetNewPeer asks are spread across prefixes, and when incoming
	// slots are full a newcomer from a prefix with fewer incoming links
	// than the most crowded one takes the slot of that prefix's most idle
	// link (its two longest-connected links are spared). A newcomer from
	// the most crowded prefix itself takes the slot of its own prefix's
	// most idle link, the two longest-connected again spared, when that
	// link has sent nothing for EvictIdle: idle links cannot lock the
	// rest of their prefix out, and a link that talks more often than
	// that is never evicted by its prefix's newcomers, however many come.
	// Otherwise the newcomer's connect is answered "peer is full"
	// (ErrPeerFull). Outgoing links are never evicted. Default EvictIdle
	// 1 min; negative: a newcomer never takes a slot of its own prefix.
	PrefixBits4, PrefixBits6 int
	EvictIdle                time.Duration
	// MaxInboundPerIP and MaxInboundPerPrefix, when set, cap the incoming
	// links from one IP and from one prefix outright: a newcomer past
	// either is told "peer is full" even when slots are free. Zero means
	// no cap: the eviction rule above keeps prefixes fair when slots run
	// out, without turning away the many honest peers that can share one
	// address (behind a NAT, or on one machine).
	MaxInboundPerIP, MaxInboundPerPrefix int
	// HandshakeTimeout bounds magic, hello and the connect exchange when the
	// caller's context has no earlier deadline. Default 10 s.
	HandshakeTimeout time.Duration
	// RequestTimeout bounds each request (getpeers, relay, incoming,
	// connect) this node sends. Default 10 s.
	RequestTimeout time.Duration

	// MaxCandidates bounds the candidates returned to one getpeers, chosen
	// at random among the connected peers. Default 16.
	MaxCandidates int
	// CandidateTTL is how long a candidate id stays valid. Default 15 s
	// (the reference's CANDIDATE_TIMEOUT).
	CandidateTTL time.Duration
	// MaxCandidateIDs bounds the live candidate ids handed to one peer, and
	// so the memory they cost: when a getpeers would pass it, the oldest
	// ids are retired first (a relay through one of them then fails as an
	// unknown candidate). How often a peer may ask is GetPeersRate's
	// business: at the defaults, 5 getpeers a second of 16 candidates
	// each, 256 ids last a peer's 3.2 s of asking, well past the few
	// hundred milliseconds an introduction takes to use its id. Default
	// 256.
	MaxCandidateIDs int
	// GetPeersRate and GetPeersBurst limit getpeers requests a peer may
	// make (per second and in a burst); excess ones get an error response.
	// Defaults 5 and 20.
	GetPeersRate  float64
	GetPeersBurst int
	// RequestRate and RequestBurst limit, per peer and per kind, every
	// other message a peer may send (relay, incoming, upgrade, connect,
	// and unknown ones). A request over its rate is answered with an error
	// and other messages are dropped; a peer that keeps at it, more than
	// RefusalBurst over-rate messages faster than one a second, is
	// disconnected with ErrFlood. Defaults 10, 40 and 20.
	RequestRate  float64
	RequestBurst int
	RefusalBurst int

	// RelayRateLimit is the byte rate of each direction of a relayed pair.
	// Default 50 000 B/s, as the reference.
	RelayRateLimit int
	// MaxRelays bounds the relayed pairs this node carries at once.
	// Default 64.
	MaxRelays int
	// MaxRelaysPerPeer bounds the relays one peer may have asked this node
	// for, in progress or spliced, and MaxRelaysPerPrefix those the peers
	// of one network prefix may (PrefixBits4/6), so that one client cannot
	// take every slot. Defaults 8 and MaxRelays/4 (at least 1).
	MaxRelaysPerPeer   int
	MaxRelaysPerPrefix int
	// RelayIdleTimeout ends a relay that carried no byte either way for
	// that long, giving its slot back. Default 2 min.
	RelayIdleTimeout time.Duration
	// MaxHandshakes bounds the connections given to Accept (or Serve) that
	// are still in their handshake, and MaxHandshakesPerIP those from one
	// remote IP. A newcomer is never refused: at the per-IP cap the oldest
	// handshake from its IP is ended, and with the budget full the oldest
	// of the IP holding the most, so stalled connections cost a bounded
	// amount of memory and cannot keep honest peers out. Defaults 128 and
	// 64.
	MaxHandshakes      int
	MaxHandshakesPerIP int
	// MaxPendingIncoming bounds introductions to this node that have not
	// finished their handshake (and upgrade) yet, over all peers, and
	// MaxPendingIncomingPerPeer those one relay brings: a peer cannot keep
	// many WebRTC upgrades going at once. Defaults 16 and 4.
	MaxPendingIncoming        int
	MaxPendingIncomingPerPeer int

	// MaxMessageSize bounds one control message line. Default 64 KiB.
	MaxMessageSize int
	// MaxFrameSize bounds one multiplex frame payload; a larger frame
	// closes the link. Default 1 MiB.
	MaxFrameSize int
	// StreamBuffer bounds the bytes one stream of a link (the control
	// stream, the data stream, a relay) holds for its reader, and
	// StallTimeout ends a stream whose buffer is full and whose reader took
	// nothing for that long, alone: a stream nobody reads never stalls its
	// link (package mux). Defaults 256 KiB and 2 s.
	StreamBuffer int
	StallTimeout time.Duration
	// MaxUnclaimedBytes bounds, over all links, the bytes held for streams
	// a peer opened that nobody here has asked for (8 of 64 KiB at most a
	// link, each for 15 s); past it such streams are discarded. Default
	// 16 MiB.
	MaxUnclaimedBytes int
	// CloseDrain and CloseDrainBytes bound a link's graceful close: when
	// this node ends a link (Close, Peer.Close, an eviction, a protocol
	// error) over a transport that can half close (TCP, a relayed
	// session), it sends its end, then reads and drops what the peer still
	// sends until the peer ends too, for at most CloseDrain and
	// CloseDrainBytes, before closing the transport: closed with the
	// peer's bytes unread, a TCP connection is reset, and the peer sees
	// "connection reset by peer" instead of a clean end. Links end
	// together: Exchange.Close takes at most about CloseDrain however
	// many it holds. Defaults 2 s and 1 MiB (package mux's).
	CloseDrain      time.Duration
	CloseDrainBytes int

	// EventBuffer is the capacity of the Events channel; events that find
	// it full are dropped (and counted), never blocking the protocol.
	// Default 256.
	EventBuffer int
	// IncomingBuffer is the capacity of the Incoming channel: a stream of
	// a link Serve accepted waits for room there, an introduction that
	// finds it full is refused (see Exchange.Incoming). Default 16.
	IncomingBuffer int

	// Upgrader, when set, moves introductions onto a direct transport
	// (package pxp/webrtc provides WebRTC): as requester when the candidate
	// advertises it, as answerer when a relayed requester asks. Nil means
	// introductions stay relayed sessions and connectInfo says webrtc:false.
	Upgrader Upgrader

	// Dialer, when set, is used to dial candidates that advertise a TCP
	// address ("tcp" in connectInfo) directly, before trying the relay.
	// pex never dials on its own: nil means no direct dials.
	Dialer func(ctx context.Context, network, address string) (net.Conn, error)
	// DirectDialBackoff, MaxDirectDialBackoff, MaxDirectDialsPerIP and
	// MaxDirectDialRecords hold the Dialer's direct dials to the
	// addresses candidates advertise, which nobody vouches for: a relay
	// can name anyone's (directdial.go). An address whose dial did not
	// end in a PXP link is not dialed again for DirectDialBackoff,
	// doubling with each such dial in a row up to MaxDirectDialBackoff,
	// whichever relay names it; at most MaxDirectDialsPerIP dials to one
	// IP (on any ports; host names, which may stand for any IP, share one
	// count) start within a DirectDialBackoff window (a dial that ends in
	// a link gives its place back); MaxDirectDialRecords
	// bounds the addresses remembered, and when they are all backing off
	// a new address is not dialed. A candidate not dialed is introduced
	// through its relay, as one advertising no address is. Defaults 1 min,
	// 30 min, 4 and 4096, as bt/swarm's dial policy.
	DirectDialBackoff    time.Duration
	MaxDirectDialBackoff time.Duration
	MaxDirectDialsPerIP  int
	MaxDirectDialRecords int
	// AdvertiseAddr is a TCP "host:port" this node accepts PXP on, told to
	// peers in connectInfo so that Go requesters can dial it directly
	// (Exchange.SetAdvertiseAddr changes it).
	AdvertiseAddr string
	// MaxAnchors is how many links Exchange.Anchors names at most: the
	// longest-connected links this node opened, to an address it can dial
	// again, that carried traffic past their handshake, for an
	// application to save and dial first at its next start (as Bitcoin
	// Core's anchors: anchors.go). Default 2; negative means none.
	MaxAnchors int
	// MinObservers is how many peers, at different IP addresses, must say
	// they see this node at an address before it is believed
	// (Exchange.Observed; observe.go). Default 2.
	MinObservers int
	// DialBackTimeout bounds a dial-back this node makes for a peer (the
	// TCP connect and the peer's magic), and MaxDialBacks how many it
	// makes at once; a request over it is refused (dialback.go). Defaults
	// 5 s and 8.
	DialBackTimeout time.Duration
	MaxDialBacks    int

	// NetworkKey, when set, makes the network private (package pxp/psk):
	// every direct link (Connect, Accept, Serve, direct dials, dial-backs
	// and the links upgrades make) starts with a Noise handshake that
	// proves both ends hold this key, and its PXP bytes then travel
	// encrypted and authenticated under the keys that handshake made. A
	// peer without the key, or with another, is refused at that
	// handshake with an error matching ErrNetworkKey (a
	// *NetworkKeyError), before any PXP is spoken, within
	// HandshakeTimeout and in the handshake budget as any incoming
	// handshake. Relayed sessions run inside keyed links, and the
	// signaling of upgrades with them. A node with a key links only to
	// nodes with the same key: not to keyless ones, nor to the JS
	// reference, which has no keys. Nil (the default) is PXP as the
	// reference speaks it, byte for byte. The byte counters (Stats,
	// PeerStats) count PXP's bytes, inside the encryption.
	NetworkKey *psk.Key

	// Logger receives debug and warning logs; nil means silent.
	Logger *slog.Logger

	// chosenCandidates, set only by the lab (labhooks.go), answers every
	// getpeers in place of a sample of the peers.
	chosenCandidates func(asker string) []json.RawMessage
}
