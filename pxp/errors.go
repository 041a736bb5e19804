package pxp

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrBadMagic: the peer's first five bytes were not "#PXP#".
	ErrBadMagic = errors.New("pxp: invalid magic value, peer not using PXP")
	// ErrVersionMismatch: the peer's hello names a version other than 1.
	ErrVersionMismatch = errors.New("pxp: peer has an invalid protocol version")
	// ErrNetworkMismatch: the peer's hello shares no network id with ours.
	ErrNetworkMismatch = errors.New("pxp: peer does not have any networks in common")
	// ErrHandshakeTimeout: no valid hello (or no connect) in time.
	ErrHandshakeTimeout = errors.New("pxp: handshake timed out")
	// ErrRequestTimeout: a request got no response in time.
	ErrRequestTimeout = errors.New("pxp: request timed out")
	// ErrClosed: the Exchange or the peer link is closed.
	ErrClosed = errors.New("pxp: closed")
	// ErrNoPeers: GetNewPeer has no connected peer to ask.
	ErrNoPeers = errors.New("pxp: not connected to any peers")
	// ErrNoCandidates: no asked peer offered a usable new candidate.
	ErrNoCandidates = errors.New("pxp: peer did not return any candidates")
	// ErrDuplicatePeer: the peer is already connected (same node id).
	ErrDuplicatePeer = errors.New("pxp: peer already connected")
	// ErrSelf: the link leads back to this node.
	ErrSelf = errors.New("pxp: connected to self")
	// ErrTooManyPeers: Config.MaxPeers is reached (for a link this node
	// opened) and every link is one this node opened: a link it opens
	// otherwise takes the slot of an incoming one.
	ErrTooManyPeers = errors.New("pxp: too many peers")
	// ErrPeerFull: the node has no slot for an incoming link; it answers
	// the link's connect with "peer is full" before closing it, and a
	// RemoteError carrying that message matches ErrPeerFull.
	ErrPeerFull = errors.New("pxp: peer is full")
	// ErrEvicted: the link was closed to make room for a newcomer from a
	// less represented network prefix, or, idle for Config.EvictIdle, for
	// a newcomer of its own (see Config.PrefixBits4), or, an incoming
	// link, for a link this node opened (see Config.ReservedOutbound).
	ErrEvicted = errors.New("pxp: evicted for a newcomer")
	// ErrFlood: the peer kept sending messages over its rate
	// (Config.RequestRate, GetPeersRate) and was disconnected.
	ErrFlood = errors.New("pxp: peer sent too many messages")
	// ErrNetworkKey: the peer did not prove it holds this node's network
	// key (Config.NetworkKey): it holds another, or none (a keyless node,
	// the JS reference), or this node has none and the peer asks for
	// one. The error is a *NetworkKeyError.
	ErrNetworkKey = errors.New("pxp: network key mismatch")
	// ErrUnsupportedUpgrade: the peer asked for a transport upgrade this
	// node cannot do.
	ErrUnsupportedUpgrade = errors.New("pxp: unsupported transport upgrade")
)

// ProtocolError is a message that breaks the protocol: invalid JSON, a
// message that is not a 3-element array, an argument of the wrong shape. The
// link that sent it is closed.
type ProtocolError struct {
	Reason string
}

func (e *ProtocolError) Error() string { return "pxp: peer sent invalid PXP message: " + e.Reason }

// RemoteError is an error string the peer sent in a response.
type RemoteError struct {
	Command string // the request it answers
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("pxp: peer refused %s: %s", e.Command, e.Message)
}

// peerFullMessage is the refusal a full node sends; JS peers see it as the
// error of their connect.
const peerFullMessage = "peer is full"

// Is makes a "peer is full" refusal match ErrPeerFull.
func (e *RemoteError) Is(target error) bool {
	return target == ErrPeerFull && e.Message == peerFullMessage
}

// NetworkMismatchError is the ErrNetworkMismatch of one handshake: the
// networks the peer's hello named (at most a few) and ours.
type NetworkMismatchError struct {
	Theirs []string
	Ours   string
}

func (e *NetworkMismatchError) Error() string {
	return fmt.Sprintf("%v (theirs %q, ours %q)", ErrNetworkMismatch, e.Theirs, e.Ours)
}

// Unwrap makes errors.Is(err, ErrNetworkMismatch) hold.
func (e *NetworkMismatchError) Unwrap() error { return ErrNetworkMismatch }

// NetworkKeyError is the ErrNetworkKey of one connection: its transport,
// the peer's address, and why (psk.ErrKeyMismatch, psk.ErrPeerKeyless,
// ErrPeerKeyed, ...; errors.Is matches each).
type NetworkKeyError struct {
	Transport string // "tcp", "ws", "webrtc", ...
	Remote    string // the transport's remote address
	Reason    error
}

// ErrPeerKeyed is the Reason of a NetworkKeyError on a node without a
// network key whose peer opened with a keyed handshake.
var ErrPeerKeyed = errors.New("the peer is in a private network and asks for a network key; this node has none")

func (e *NetworkKeyError) Error() string {
	return fmt.Sprintf("%v with %s %s: %v", ErrNetworkKey, e.Transport, e.Remote, e.Reason)
}

// Unwrap makes errors.Is(err, ErrNetworkKey) hold, and errors.Is for the
// reason.
func (e *NetworkKeyError) Unwrap() []error { return []error{ErrNetworkKey, e.Reason} }
