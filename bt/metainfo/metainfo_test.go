package metainfo

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
)

const hexIH = "0123456789abcdef0123456789abcdef01234567"

func TestParseInfoHash(t *testing.T) {
	ih, err := ParseInfoHash(hexIH)
	if err != nil || hex.EncodeToString(ih[:]) != hexIH {
		t.Fatalf("hex: %x %v", ih, err)
	}
	b32, err := ParseInfoHash("AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH")
	if err != nil || b32 != ih {
		t.Fatalf("base32: %x %v", b32, err)
	}
	for _, bad := range []string{"", "zz", hexIH[:39] + "g", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, err := ParseInfoHash(bad); err == nil {
			t.Errorf("took %q", bad)
		}
	}
}

func TestParseMagnet(t *testing.T) {
	sw, err := ParseMagnet("magnet:?xt=urn:btih:" + hexIH + "&dn=some+name&tr=udp%3A%2F%2F192.0.2.1%3A6969&tr=http%3A%2F%2F192.0.2.2%2Fannounce&tr=udp%3A%2F%2F192.0.2.1%3A6969&x.pe=192.0.2.9:6881")
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(sw.InfoHash[:]) != hexIH || sw.Name != "some name" {
		t.Fatalf("got %x %q", sw.InfoHash, sw.Name)
	}
	if !slices.Equal(sw.Trackers, []string{"udp://192.0.2.1:6969", "http://192.0.2.2/announce"}) {
		t.Fatalf("trackers %q", sw.Trackers)
	}
	if !slices.Equal(sw.Peers, []string{"192.0.2.9:6881"}) {
		t.Fatalf("peers %q", sw.Peers)
	}
	if _, err := ParseMagnet("magnet:?xt=urn:sha1:abc"); !errors.Is(err, ErrNoInfoHash) {
		t.Fatalf("no btih: %v", err)
	}
	for _, bad := range []string{"http://x", "magnet:?xt=urn:btih:zz", "%"} {
		if _, err := ParseMagnet(bad); err == nil {
			t.Errorf("took %q", bad)
		}
	}
}

func TestParseTorrent(t *testing.T) {
	info := "d4:name1:x6:lengthi1e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaa7:privatei1ee"
	file := "d8:announce20:http://192.0.2.1/ann13:announce-listll20:http://192.0.2.1/ann18:udp://192.0.2.2:69ee4:info" + info + "e"
	sw, err := ParseTorrent([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if sw.InfoHash != sha1.Sum([]byte(info)) || !sw.Private || sw.Name != "x" {
		t.Fatalf("got %x private=%v name=%q", sw.InfoHash, sw.Private, sw.Name)
	}
	if !slices.Equal(sw.Trackers, []string{"http://192.0.2.1/ann", "udp://192.0.2.2:69"}) {
		t.Fatalf("trackers %q", sw.Trackers)
	}
	for _, bad := range []string{"", "le", "d4:infoi1e", "d3:foo3:bare", "d4:info"} {
		if _, err := ParseTorrent([]byte(bad)); err == nil {
			t.Errorf("took %q", bad)
		}
	}
}

func FuzzParseTorrent(f *testing.F) {
	f.Add([]byte("d8:announce3:a:b4:infod4:name1:xee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseTorrent(b)
	})
}
