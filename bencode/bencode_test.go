package bencode

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	v := map[string]any{
		"m":    map[string]any{"ut_pex": int64(1), "ut_metadata": int64(2)},
		"p":    int64(6881),
		"v":    "pex 0.1",
		"list": []any{int64(-3), "x", []any{}},
		"bin":  "\x00\xff",
	}
	b, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	want := "d3:bin2:\x00\xff4:listli-3e1:xlee1:md11:ut_metadatai2e6:ut_pexi1ee1:pi6881e1:v7:pex 0.1e"
	if string(b) != want {
		t.Fatalf("encoded %q\nwant    %q", b, want)
	}
	got, err := Decode(b)
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("decoded %#v, %v", got, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, in := range []string{
		"", "i", "ie", "i-0e", "i01e", "i-e", "i12", "i9223372036854775808e",
		"3:ab", "03:abc", "-1:a", "2ab", "l", "li1e", "d", "d1:a", "d1:ai1e1:ai2ee",
		"di1ei2ee", "x", "d1:a" + string(bytes.Repeat([]byte("l"), 40)),
		"99999999999999999999999:a",
	} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("%q decoded", in)
		}
		// Skip checks structure only (it does not look for duplicate keys).
		if _, err := Skip([]byte(in)); err == nil && in != "d1:ai1e1:ai2ee" {
			t.Errorf("Skip accepted %q", in)
		}
	}
	if _, err := Decode([]byte("i1eX")); !errors.Is(err, ErrTrailing) {
		t.Errorf("trailing: %v", err)
	}
	n, _, err := ReadInt([]byte("i-9223372036854775808e"))
	if err != nil || n != -9223372036854775808 {
		t.Errorf("min int64: %d %v", n, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"d1:ad1:bi1eee", "li1e3:abce", "i-5e", "0:", "d2:ab1:ce"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		rest, serr := Skip(b)
		if err == nil {
			if serr != nil || len(rest) != 0 {
				t.Fatalf("Skip disagrees: %v rest %d", serr, len(rest))
			}
			enc, err := Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			v2, err := Decode(enc)
			if err != nil || !reflect.DeepEqual(v, v2) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
