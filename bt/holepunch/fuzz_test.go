package holepunch

import (
	"bytes"
	"testing"
)

// canonical is the payload Append writes for the message b holds, made
// from b by hand: the two things Parse is liberal about are put right. A
// non-error message's err_code becomes zero, and an IPv4-mapped IPv6
// address takes the IPv4 form. b must be a payload Parse accepts.
func canonical(b []byte) []byte {
	out := bytes.Clone(b)
	if full := map[byte]int{0: 12, 1: 24}[out[1]]; len(out) == full-4 {
		out = append(out, 0, 0, 0, 0) // libtorrent's short form: no err_code
	}
	if out[0] != byte(Error) {
		copy(out[len(out)-4:], []byte{0, 0, 0, 0})
	}
	mappedPrefix := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}
	if out[1] == 0x01 && bytes.HasPrefix(out[2:], mappedPrefix) {
		out = append(out[:2:2], out[2+12:]...) // drop the prefix: 4 address bytes remain
		out[1] = 0x00
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, m := range sampleMsgs() {
		b, _ := Append(nil, m)
		f.Add(b)
	}
	f.Add(golden("00 00 0a000001 1ae1 00000007"))                         // ignored err_code
	f.Add(golden("01 01 00000000000000000000ffffc0000207 1ae1 00000000")) // IPv4-mapped
	f.Add(golden("02 00 0a000001 1ae1 00000000"))                         // error without a code
	f.Add(golden("01 00 0a000001 1ae1"))                                  // libtorrent's short form
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if m != (Msg{}) {
				t.Fatalf("refused % x (%v) but returned %v", b, err, m)
			}
			return
		}
		if !m.Addr.IsValid() || m.Addr.Addr().Is4In6() || m.Type > Error || (m.Type == Error) != (m.Err != 0) {
			t.Fatalf("accepted % x as %v", b, m)
		}
		out, err := Append(nil, m)
		if err != nil {
			t.Fatalf("%v does not re-encode: %v", m, err)
		}
		if want := canonical(b); !bytes.Equal(out, want) {
			t.Fatalf("% x parsed as %v re-encodes as % x, want % x", b, m, out, want)
		}
		if again, err := Parse(out); err != nil || again != m {
			t.Fatalf("re-encoded %v parses as %v, %v", m, again, err)
		}
	})
}
