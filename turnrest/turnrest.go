// Package turnrest mints and checks short-lived TURN credentials derived
// from a secret shared with the TURN server: the "TURN REST API" scheme of
// draft-uberti-behave-turn-rest-00 (section 2.2), which coturn checks with
// use-auth-secret and static-auth-secret, and pex turn with --auth-secret.
//
// A credential is a user name and a password for TURN's long-term
// credential mechanism (RFC 8489 section 9.2):
//
//	username = "<expiry>:<name>"   expiry in Unix seconds, decimal
//	password = base64(HMAC-SHA1(secret, username))   standard base64, padded
//
// The server needs no list of users: it takes the expiry from the user
// name, refuses a credential whose expiry has passed, and computes the
// password from its own copy of the secret. Whoever holds a credential
// can allocate relays until its expiry; whoever holds the secret can mint
// credentials, so the secret stays on the servers and the nodes that mint
// (and, because a page hands out HMACs of it, must be long and random
// enough that it cannot be guessed from one: MinSecretLen).
//
// The name after the colon is who the credential is for; TURN servers
// count their per-user quotas by it (coturn's user-quota, pex turn's
// --max-allocations). Only the first colon separates the expiry, as in
// coturn, so the name may hold colons.
//
// The package has no dependency outside the standard library: a web
// service can mint credentials for its pages without linking a WebRTC
// stack.
package turnrest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Separator stands between a user name's expiry and its name (coturn's
// rest-api-separator, ':' by default; draft-uberti-behave-turn-rest-00
// section 2.2).
const Separator = ":"

// Bounds of a secret. A page hands out credentials, each an HMAC of a
// user name it also shows: a short secret could be found from one of
// them offline, by trying every secret. MinSecretLen bytes of a random
// secret (openssl rand -base64 32 gives 44) put that out of reach;
// MaxSecretLen bounds what a secret file may hold.
const (
	MinSecretLen = 16
	MaxSecretLen = 1024
)

// Errors of Check and ParseSecret.
var (
	// ErrMalformed: the user name is not "<expiry>:<name>" with a decimal
	// expiry and a name.
	ErrMalformed = errors.New("turnrest: user name is not EXPIRY:NAME")
	// ErrExpired: the credential's expiry has passed.
	ErrExpired = errors.New("turnrest: credential expired")
	// ErrWrongPassword: the password is not the one the secret gives the
	// user name (a forged or mistyped credential, or another secret's).
	ErrWrongPassword = errors.New("turnrest: wrong password for the user name")
	// ErrSecret: a secret shorter than MinSecretLen or longer than
	// MaxSecretLen once trimmed.
	ErrSecret = fmt.Errorf("turnrest: a secret must be %d to %d bytes", MinSecretLen, MaxSecretLen)
)

// Credential is one short-lived TURN credential, as RTCIceServer's
// username and credential take it.
type Credential struct {
	Username string    // "<expiry>:<name>"
	Password string    // base64(HMAC-SHA1(secret, Username))
	Expires  time.Time // the expiry the user name holds, whole seconds
}

// Mint returns the credential for name that expires at expires (cut to
// whole seconds). name may be empty: the user name is then "<expiry>:".
func Mint(secret []byte, name string, expires time.Time) Credential {
	user := strconv.FormatInt(expires.Unix(), 10) + Separator + name
	return Credential{Username: user, Password: Password(secret, user), Expires: time.Unix(expires.Unix(), 0)}
}

// Password is the password secret gives username:
// base64(HMAC-SHA1(secret, username)).
func Password(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Parse splits a user name into its expiry and its name, at the first
// Separator. It returns ErrMalformed when the part before it is not a
// decimal number of seconds (digits only, as coturn reads it).
func Parse(username string) (expires time.Time, name string, err error) {
	ts, name, ok := strings.Cut(username, Separator)
	if !ok || ts == "" || len(ts) > 19 || strings.Trim(ts, "0123456789") != "" {
		return time.Time{}, "", ErrMalformed
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", ErrMalformed
	}
	return time.Unix(n, 0), name, nil
}

// Verify is what a TURN server does with the user name of a request, at
// time now: it parses it, refuses it when its expiry has passed (an expiry
// of now itself is still good, as in coturn), and returns its name and the
// password the secret gives it, for the server to check the request's
// message integrity with.
func Verify(secret []byte, username string, now time.Time) (name, password string, err error) {
	expires, name, err := Parse(username)
	if err != nil {
		return "", "", err
	}
	if expires.Unix() < now.Unix() {
		return name, "", fmt.Errorf("%w at %s", ErrExpired, expires.UTC().Format(time.RFC3339))
	}
	return name, Password(secret, username), nil
}

// Check reports whether username and password are a credential secret
// minted that has not expired at now, and returns its name.
func Check(secret []byte, username, password string, now time.Time) (name string, err error) {
	name, want, err := Verify(secret, username, now)
	if err != nil {
		return name, err
	}
	if !hmac.Equal([]byte(want), []byte(password)) {
		return name, ErrWrongPassword
	}
	return name, nil
}

// ParseSecret is the secret a secret file holds: its bytes with
// surrounding white space trimmed (the newline an editor or echo leaves),
// refused with ErrSecret when shorter than MinSecretLen or longer than
// MaxSecretLen. Give coturn's static-auth-secret the same string.
func ParseSecret(b []byte) ([]byte, error) {
	s := bytes.TrimSpace(b)
	if len(s) < MinSecretLen || len(s) > MaxSecretLen {
		return nil, ErrSecret
	}
	return s, nil
}

// Minter mints credentials that live TTL from its clock's now.
type Minter struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewMinter returns a Minter for secret (used as given: see ParseSecret)
// whose credentials live ttl, at least a second. now is its clock; nil
// means time.Now.
func NewMinter(secret []byte, ttl time.Duration, now func() time.Time) (*Minter, error) {
	if ttl < time.Second {
		return nil, errors.New("turnrest: a credential must live at least a second")
	}
	if now == nil {
		now = time.Now
	}
	return &Minter{secret: bytes.Clone(secret), ttl: ttl, now: now}, nil
}

// Mint returns a fresh credential for name, expiring TTL from now.
func (m *Minter) Mint(name string) Credential {
	return Mint(m.secret, name, m.now().Add(m.ttl))
}

// TTL is how long the Minter's credentials live.
func (m *Minter) TTL() time.Duration { return m.ttl }
