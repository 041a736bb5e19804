package mux

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

// Frames captured between JS nodes (docs/pxp-capture.txt).
var captured = []struct {
	hex     string
	ch      uint64
	typ     uint8
	payload string
}{
	{"0003707870", 0, TypeNew, "pxp"},
	{"080d646174613a7078702d6d657368", 1, TypeNew, "data:pxp-mesh"},
	{"100e72656c61793a6463393165646538", 2, TypeNew, "relay:dc91ede8"},
	{"12052350585023", 2, TypeDataInit, "#PXP#"},
	{"021b5b22636f6e6e656374222c2231222c227078702d6d657368225d0a", 0, TypeDataInit, `["connect","1","pxp-mesh"]` + "\n"},
	{"02115b22726573222c2231222c6e756c6c5d0a", 0, TypeDataInit, `["res","1",null]` + "\n"},
	{"120302ba04", 2, TypeDataInit, "\x02\xba\x04"},
	{"1400", 2, TypeEndInit, ""},
	{"1300", 2, TypeEndReceiver, ""},
	{"1500", 2, TypeErrReceiver, ""},
	{"1600", 2, TypeErrInit, ""},
}

func TestCapturedFrames(t *testing.T) {
	var stream []byte
	for _, c := range captured {
		b, _ := hex.DecodeString(c.hex)
		stream = append(stream, b...)
		f, n, err := ParseFrame(b, 0)
		if err != nil || n != len(b) {
			t.Fatalf("%s: %v (used %d of %d)", c.hex, err, n, len(b))
		}
		if f.Channel != c.ch || f.Type != c.typ || string(f.Payload) != c.payload {
			t.Fatalf("%s: got ch %d type %d %q", c.hex, f.Channel, f.Type, f.Payload)
		}
		if enc := AppendFrame(nil, c.ch, c.typ, []byte(c.payload)); !bytes.Equal(enc, b) {
			t.Fatalf("encode: got %x want %s", enc, c.hex)
		}
	}
	// The same frames back to back through a Reader.
	r := NewReader(bytes.NewReader(stream), 0)
	for _, c := range captured {
		f, err := r.ReadFrame()
		if err != nil || f.Channel != c.ch || f.Type != c.typ || string(f.Payload) != c.payload {
			t.Fatalf("reader: %v %+v", err, f)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestBadFrames(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"type 7", []byte{0x07, 0x00}, &FrameError{}},
		{"too large", AppendFrame(nil, 1, TypeDataInit, make([]byte, 101)), ErrFrameTooLarge},
		{"header overflow", bytes.Repeat([]byte{0xff}, 11), &FrameError{}},
		{"length overflow", append([]byte{0x02}, bytes.Repeat([]byte{0xff}, 11)...), &FrameError{}},
		{"channel out of range", AppendFrame(nil, 1<<40, TypeNew, nil), &FrameError{}},
		{"truncated payload", []byte{0x02, 0x05, 'a'}, io.ErrUnexpectedEOF},
		{"truncated length", []byte{0x02}, io.ErrUnexpectedEOF},
		{"truncated varint", []byte{0x82}, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tc.in), 100).ReadFrame()
			check := func(err error) {
				t.Helper()
				var fe *FrameError
				switch want := tc.want.(type) {
				case *FrameError:
					if !errors.As(err, &fe) {
						t.Fatalf("got %v, want a FrameError", err)
					}
				default:
					if !errors.Is(err, want) && !(want == ErrFrameTooLarge && errors.As(err, &fe)) {
						t.Fatalf("got %v, want %v", err, want)
					}
				}
			}
			check(err)
			_, _, err = ParseFrame(tc.in, 100)
			check(err)
		})
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, c := range captured {
		b, _ := hex.DecodeString(c.hex)
		f.Add(b)
	}
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := ParseFrame(b, 1<<16)
		if err != nil {
			return
		}
		if n > len(b) || len(fr.Payload) > 1<<16 || fr.Type > TypeErrInit {
			t.Fatalf("bad frame %+v n=%d", fr, n)
		}
		// Re-encoding a decoded frame gives a frame that decodes the same.
		enc := AppendFrame(nil, fr.Channel, fr.Type, fr.Payload)
		fr2, n2, err := ParseFrame(enc, 1<<16)
		if err != nil || n2 != len(enc) || fr2.Channel != fr.Channel || fr2.Type != fr.Type || !bytes.Equal(fr2.Payload, fr.Payload) {
			t.Fatalf("round trip: %v", err)
		}
		// The streaming reader agrees with ParseFrame.
		fr3, err := NewReader(bytes.NewReader(b), 1<<16).ReadFrame()
		if err != nil || fr3.Channel != fr.Channel || !bytes.Equal(fr3.Payload, fr.Payload) {
			t.Fatalf("reader disagrees: %v", err)
		}
	})
}
