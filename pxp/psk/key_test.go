package psk

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFileRoundTrip(t *testing.T) {
	k := mustKey(t)
	text, _ := k.MarshalText()
	if !strings.HasPrefix(string(text), "/key/swarm/psk/1.0.0/\n/base16/\n") || len(text) != len("/key/swarm/psk/1.0.0/\n/base16/\n")+65 {
		t.Fatalf("file %q", text)
	}
	got, err := ParseKey(text)
	if err != nil || *got != *k {
		t.Fatalf("%v %v", got, err)
	}
	path := filepath.Join(t.TempDir(), "swarm.key")
	os.WriteFile(path, text, 0o600)
	if got, err := LoadKey(path); err != nil || *got != *k {
		t.Fatalf("LoadKey: %v", err)
	}
	if k.Fingerprint() == mustKey(t).Fingerprint() || len(k.Fingerprint()) != 16 || k.Fingerprint() != got.Fingerprint() {
		t.Errorf("fingerprint %q", k.Fingerprint())
	}
	if strings.Contains(hex.EncodeToString(k[:]), k.Fingerprint()) {
		t.Error("the fingerprint shows the key")
	}
}

func TestParseKeyForms(t *testing.T) {
	k := mustKey(t)
	h := hex.EncodeToString(k[:])
	b64 := base64.StdEncoding.EncodeToString(k[:])
	for _, ok := range []string{
		"/key/swarm/psk/1.0.0/\n/base16/\n" + h,
		"/key/swarm/psk/1.0.0/\r\n/base16/\r\n" + strings.ToUpper(h) + "\r\n",
		"  /key/swarm/psk/1.0.0/ \n/base16/\n" + h + "\n\n",
		"/key/swarm/psk/1.0.0/\n/base64/\n" + b64 + "\n",
	} {
		if got, err := ParseKey([]byte(ok)); err != nil || *got != *k {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, tc := range []struct{ in, says string }{
		{"", "first line"},
		{h, "first line"},
		{"/key/swarm/psk/1.0.0/\n/base16/", "want 3 lines"},
		{"/key/swarm/psk/1.0.0/\n/base16/\n" + h + "\nmore", "want 3 lines"},
		{"/key/swarm/psk/1.0.0/\n/bin/\n" + h, "encoding"},
		{"/key/swarm/psk/1.0.0/\n/base16/\n" + h[:62], "31 bytes, want 32"},
		{"/key/swarm/psk/1.0.0/\n/base16/\n" + h + "00", "33 bytes"},
		{"/key/swarm/psk/1.0.0/\n/base16/\n" + h[:63] + "g", "not base16"},
		{"/key/swarm/psk/1.0.0/\n/base64/\n" + b64[:41], "base64"},
		{"/key/swarm/psk/1.0.0/\n/base16/\n" + strings.Repeat("0", 64), "all zeros"},
		{strings.Repeat("x", MaxFileSize+1), "more than a key file"},
	} {
		_, err := ParseKey([]byte(tc.in))
		if !errors.Is(err, ErrKeyFormat) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%.40q: %v, want ErrKeyFormat saying %q", tc.in, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), h[:16]) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
	if _, err := LoadKey(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
