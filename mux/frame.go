// Package mux implements the multiplex 6.x framing that PXP runs over: named
// duplex streams carried over one ordered byte stream.
//
// # Wire format
//
// Every frame is
//
//	varint(header) varint(length) payload[length]
//
// where both varints are unsigned LEB128 (seven bits a byte, low group first,
// high bit set on every byte but the last) and header = channel<<3 | type.
//
//	type 0  NEW    sent by the channel's initiator; payload is the channel's name
//	                (empty means the decimal channel id)
//	type 1  DATA   sent by the non-initiator (receiver) of the channel
//	type 2  DATA   sent by the initiator
//	type 3  END    half-close, sent by the non-initiator
//	type 4  END    half-close, sent by the initiator
//	type 5  ERROR  destroy, sent by the non-initiator; payload is a message
//	type 6  ERROR  destroy, sent by the initiator
//
// Channel ids are allocated independently by each side for the channels it
// initiates, so an even type names a channel the sender opened and an odd type
// names one the receiver opened. There is no flow-control frame: back-pressure
// comes from the transport alone. Types 7 and above are a protocol error.
//
// # Shared streams
//
// PXP never uses anonymous channels. For a logical stream called NAME each side
// opens its own outgoing channel NAME (lazily: NEW goes out just before the
// first DATA or END) and reads from the peer's channel NAME. One duplex stream
// is thus two one-way channels; [Session.Stream] gives it as a [net.Conn].
//
// # Differences from the JS implementation
//
// A [Session] writes each frame with one Write call, enforces a maximum frame
// size, keeps an error on one channel local to that channel, never sends an
// ERROR frame itself (JS peers close the whole connection on any ERROR frame),
// buffers a bounded amount of data for channels that open before anyone
// asked for their name, and closes gracefully: [Session.Close] half closes
// a transport that can, and reads what the peer still sends until its end,
// within a bound ([Config.CloseDrain]), so that the peer sees a clean end
// rather than a reset.
package mux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/seed0021ed4d/pex/internal/rbuf"
)

// Frame types, as numbered by multiplex 6.x.
const (
	TypeNew          = 0
	TypeDataReceiver = 1
	TypeDataInit     = 2
	TypeEndReceiver  = 3
	TypeEndInit      = 4
	TypeErrReceiver  = 5
	TypeErrInit      = 6
)

// MaxChannelID is the largest channel id a Session accepts. JS allocates the
// lowest free id, so real ids stay small.
const MaxChannelID = 1<<31 - 1

// DefaultMaxFrameSize is the payload limit used when Config.MaxFrameSize is zero.
const DefaultMaxFrameSize = 1 << 20

// Frame is one decoded frame. Payload aliases the reader's buffer and is valid
// only until the next ReadFrame call.
type Frame struct {
	Channel uint64
	Type    uint8
	Payload []byte
}

// Initiated reports whether the frame's channel was opened by the frame's sender.
func (f Frame) Initiated() bool { return f.Type%2 == 0 }

// AppendFrame appends one encoded frame to dst.
func AppendFrame(dst []byte, channel uint64, typ uint8, payload []byte) []byte {
	dst = binary.AppendUvarint(dst, channel<<3|uint64(typ))
	dst = binary.AppendUvarint(dst, uint64(len(payload)))
	return append(dst, payload...)
}

// FrameOverhead is the largest header a frame can have: two ten-byte varints.
const FrameOverhead = 2 * binary.MaxVarintLen64

// FrameError is a malformed or oversized frame. It is fatal for the session.
type FrameError struct {
	Reason string
}

func (e *FrameError) Error() string { return "mux: " + e.Reason }

// ErrFrameTooLarge is wrapped by the FrameError for a frame over the limit.
var ErrFrameTooLarge = errors.New("frame too large")

// Reader decodes frames from a byte stream. It reads through an
// internal/rbuf buffer: while the stream is idle it holds no read buffer
// but a small array.
type Reader struct {
	br  *rbuf.Reader
	max int
}

// NewReader returns a Reader that refuses frames with a payload over maxPayload
// bytes (DefaultMaxFrameSize if maxPayload <= 0).
func NewReader(r io.Reader, maxPayload int) *Reader {
	return &Reader{br: rbuf.New(r), max: positiveOr(maxPayload, DefaultMaxFrameSize)}
}

// ReadFrame reads the next frame; its Payload is valid until the next
// call. It returns io.EOF at a clean end of stream (between frames),
// io.ErrUnexpectedEOF inside a frame, and a *FrameError for a malformed
// one.
func (r *Reader) ReadFrame() (Frame, error) {
	header, err := readUvarint(r.br, "header")
	if err != nil {
		return Frame{}, err
	}
	length, err := readUvarint(r.br, "length")
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	f, err := checkHeader(header, length, r.max)
	if err != nil {
		return Frame{}, err
	}
	// The buffer grows with the bytes that arrive, not with the length
	// the peer announced.
	f.Payload, err = r.br.Next(int(length))
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return f, nil
}

// checkHeader validates a decoded header and length.
func checkHeader(header, length uint64, maxPayload int) (Frame, error) {
	f := Frame{Channel: header >> 3, Type: uint8(header & 7)}
	switch {
	case f.Type > TypeErrInit:
		return Frame{}, &FrameError{Reason: fmt.Sprintf("unknown frame type %d", f.Type)}
	case f.Channel > MaxChannelID:
		return Frame{}, &FrameError{Reason: fmt.Sprintf("channel id %d out of range", f.Channel)}
	case length > uint64(maxPayload):
		return Frame{}, &FrameError{Reason: fmt.Sprintf("%v: %d bytes, limit %d", ErrFrameTooLarge, length, maxPayload)}
	}
	return f, nil
}

// readUvarint reads one LEB128 varint. It returns io.EOF only when no byte of
// it was read.
func readUvarint(br io.ByteReader, what string) (uint64, error) {
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := br.ReadByte()
		if err != nil {
			if err == io.EOF && i > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, &FrameError{Reason: what + " varint overflows 64 bits"}
}

// ParseFrame decodes one frame from the start of b and returns it with the
// number of bytes it used. It returns io.ErrUnexpectedEOF when b holds only
// part of a frame.
func ParseFrame(b []byte, maxPayload int) (Frame, int, error) {
	maxPayload = positiveOr(maxPayload, DefaultMaxFrameSize)
	header, n1 := binary.Uvarint(b)
	if n1 == 0 {
		return Frame{}, 0, io.ErrUnexpectedEOF
	}
	if n1 < 0 {
		return Frame{}, 0, &FrameError{Reason: "header varint overflows 64 bits"}
	}
	length, n2 := binary.Uvarint(b[n1:])
	if n2 == 0 {
		return Frame{}, 0, io.ErrUnexpectedEOF
	}
	if n2 < 0 {
		return Frame{}, 0, &FrameError{Reason: "length varint overflows 64 bits"}
	}
	f, err := checkHeader(header, length, maxPayload)
	if err != nil {
		return Frame{}, 0, err
	}
	start := n1 + n2
	end := start + int(length)
	if end > len(b) {
		return Frame{}, 0, io.ErrUnexpectedEOF
	}
	f.Payload = b[start:end]
	return f, end, nil
}
