// The TURN server's authentication: long-term users, and short-lived TURN REST credentials.

package webrtc

import (
	"net"
	"strings"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/seed0021ed4d/pex/turnrest"
)

// Reasons a TURN request's credential is refused (TURNConfig.OnAuthRefused).
const (
	RefusedUnknownUser   = "unknown-user"   // no long-term user of that name, and not a TURN REST user name
	RefusedMalformed     = "malformed"      // a user name with a colon that is not EXPIRY:NAME
	RefusedExpired       = "expired"        // a TURN REST credential past its expiry, on an Allocate
	RefusedWrongPassword = "wrong-password" // the message integrity does not match: a forged or mistyped password
)

// turnAuth is the TURN server's AuthHandler. A user name with a colon is
// a TURN REST one (turnrest): a long-term user's cannot hold one, since
// "NAME:PASSWORD" is cut at its first colon, so the two kinds live side
// by side and an operator can move peers from one to the other a few at
// a time.
//
// A REST credential's expiry is checked on Allocate only, as coturn does
// (it checks the expiry when it authenticates a client's session, and
// keeps the key for that session's later requests): an allocation made in
// time is refreshed, and its permissions and channels made, with the same
// credential after it expired, for as long as its client keeps it. The
// expiry bounds when relays can be opened with a credential, not how long
// one opened lives: a long relayed link does not die at the credential's
// expiry.
type turnAuth struct {
	realm   string
	keys    map[string][]byte // long-term users' keys
	secret  []byte            // TURN REST's shared secret, or nil
	now     func() time.Time
	refused func(user string, client net.Addr, method, reason string) // or nil
}

func (a *turnAuth) handle(ra *turn.RequestAttributes) (userID string, key []byte, ok bool) {
	if key, ok := a.keys[ra.Username]; ok {
		return ra.Username, key, true
	}
	if a.secret == nil || !strings.Contains(ra.Username, turnrest.Separator) {
		a.refuse(ra.Username, ra.SrcAddr, ra.Method, RefusedUnknownUser)
		return "", nil, false
	}
	expires, name, err := turnrest.Parse(ra.Username)
	if err != nil {
		a.refuse(ra.Username, ra.SrcAddr, ra.Method, RefusedMalformed)
		return "", nil, false
	}
	if ra.Method == stun.MethodAllocate && expires.Unix() < a.now().Unix() {
		a.refuse(ra.Username, ra.SrcAddr, ra.Method, RefusedExpired)
		return "", nil, false
	}
	// The quota counts by name: credentials minted at different times
	// for one name share it, as in coturn.
	return name, turn.GenerateAuthKey(ra.Username, a.realm, turnrest.Password(a.secret, ra.Username)), true
}

// onAuth hears pion's verdict on a request's message integrity, checked
// with the key handle gave: a failure is a wrong password.
func (a *turnAuth) onAuth(src, _ net.Addr, _, user, _, method string, ok bool) {
	if !ok && a.refused != nil {
		a.refused(user, src, method, RefusedWrongPassword)
	}
}

func (a *turnAuth) refuse(user string, client net.Addr, method stun.Method, reason string) {
	if a.refused != nil {
		a.refused(user, client, method.String(), reason)
	}
}
