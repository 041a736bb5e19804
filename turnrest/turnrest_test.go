package turnrest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The vector was computed apart from this package:
//
//	printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 'north-wind-0123456789abcdef' -binary | base64
//	python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b'north-wind-0123456789abcdef',b'1700000000:alice',hashlib.sha1).digest()).decode())"
//
// both print yjTHIxKMlGWcpTFGO8z+GcYCjLo=.
func TestKnownVector(t *testing.T) {
	secret := []byte("north-wind-0123456789abcdef")
	c := Mint(secret, "alice", time.Unix(1700000000, 0))
	if c.Username != "1700000000:alice" || c.Password != "yjTHIxKMlGWcpTFGO8z+GcYCjLo=" || !c.Expires.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("Mint = %+v", c)
	}
	// A second before its expiry, and at it, the credential is good.
	for _, now := range []int64{1699999999, 1700000000} {
		if name, err := Check(secret, c.Username, c.Password, time.Unix(now, 0)); err != nil || name != "alice" {
			t.Errorf("Check at %d = %q, %v", now, name, err)
		}
	}
	// A second after, it is expired, whatever the password.
	if _, err := Check(secret, c.Username, c.Password, time.Unix(1700000001, 0)); !errors.Is(err, ErrExpired) {
		t.Errorf("Check a second late: %v, want ErrExpired", err)
	}
}

func TestRefusals(t *testing.T) {
	secret := []byte("north-wind-0123456789abcdef")
	now := time.Unix(1700000000, 0)
	good := Mint(secret, "alice", now.Add(time.Hour))
	other := Mint([]byte("south-wind-0123456789abcdef"), "alice", now.Add(time.Hour))
	for _, c := range []struct {
		user, pass string
		want       error
	}{
		{good.Username, other.Password, ErrWrongPassword}, // another secret's
		{good.Username, good.Password[1:], ErrWrongPassword},
		{strings.Replace(good.Username, "alice", "mallory", 1), good.Password, ErrWrongPassword}, // name changed
		{strings.Replace(good.Username, "17000", "27000", 1), good.Password, ErrWrongPassword},   // expiry moved later
		{"alice", good.Password, ErrMalformed},                                                   // a long-term user name
		{":alice", good.Password, ErrMalformed},                                                  // no expiry
		{"17e8:alice", good.Password, ErrMalformed},                                              // not decimal digits
		{"-1700000000:alice", good.Password, ErrMalformed},                                       // no sign
		{"99999999999999999999:alice", good.Password, ErrMalformed},                              // past int64
		{Mint(secret, "alice", now.Add(-time.Second)).Username, good.Password, ErrExpired},       // expired
		{Mint(secret, "alice", now.Add(-time.Second)).Username, Mint(secret, "alice", now.Add(-time.Second)).Password, ErrExpired},
	} {
		if _, err := Check(secret, c.user, c.pass, now); !errors.Is(err, c.want) {
			t.Errorf("Check(%q, %q) = %v, want %v", c.user, c.pass, err, c.want)
		}
	}
}

// Only the first colon separates the expiry: a name may hold colons (an
// IPv6 address), as coturn reads it.
func TestNameWithColons(t *testing.T) {
	secret := []byte("north-wind-0123456789abcdef")
	now := time.Unix(1700000000, 0)
	c := Mint(secret, "page-2001:db8::1", now.Add(time.Minute))
	exp, name, err := Parse(c.Username)
	if err != nil || name != "page-2001:db8::1" || !exp.Equal(now.Add(time.Minute)) {
		t.Fatalf("Parse(%q) = %v, %q, %v", c.Username, exp, name, err)
	}
	if name, err := Check(secret, c.Username, c.Password, now); err != nil || name != "page-2001:db8::1" {
		t.Fatalf("Check = %q, %v", name, err)
	}
}

func TestParseSecret(t *testing.T) {
	for _, c := range []struct {
		in, want string
		err      error
	}{
		{"north-wind-0123456789abcdef\n", "north-wind-0123456789abcdef", nil},
		{"  north-wind-0123456789abcdef\r\n\n", "north-wind-0123456789abcdef", nil},
		{"short\n", "", ErrSecret},
		{"\n\n", "", ErrSecret},
		{strings.Repeat("x", MaxSecretLen+1), "", ErrSecret},
	} {
		got, err := ParseSecret([]byte(c.in))
		if string(got) != c.want || !errors.Is(err, c.err) {
			t.Errorf("ParseSecret(%q) = %q, %v", c.in, got, err)
		}
	}
}

// A Minter's credentials expire TTL after its clock's now, and each Mint
// is fresh: a long-running node never hands out an expired one.
func TestMinterClock(t *testing.T) {
	secret := []byte("north-wind-0123456789abcdef")
	now := time.Unix(1700000000, 0)
	m, err := NewMinter(secret, 10*time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	first := m.Mint("node")
	if !first.Expires.Equal(now.Add(10 * time.Minute)) {
		t.Fatalf("expires %v, want %v", first.Expires, now.Add(10*time.Minute))
	}
	now = now.Add(11 * time.Minute)
	if _, err := Check(secret, first.Username, first.Password, now); !errors.Is(err, ErrExpired) {
		t.Fatalf("the first credential, 11 minutes on: %v, want ErrExpired", err)
	}
	if _, err := Check(secret, m.Mint("node").Username, m.Mint("node").Password, now); err != nil {
		t.Fatalf("a fresh credential: %v", err)
	}
	if _, err := NewMinter(secret, 0, nil); err == nil {
		t.Fatal("NewMinter took a TTL of 0")
	}
}
