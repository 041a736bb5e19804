package holepunch

import "errors"

// Errors Parse returns, each for one way a payload breaks BEP 55's layout.
// They are sentinels, so that Parse allocates nothing even when it fails;
// test them with errors.Is.
var (
	// ErrShort is a payload that ends before the fields its addr_type
	// calls for (or before addr_type itself).
	ErrShort = errors.New("ut_holepunch: payload too short")
	// ErrLength is a payload with bytes after err_code.
	ErrLength = errors.New("ut_holepunch: payload longer than its addr_type allows")
	// ErrMsgType is a msg_type other than rendezvous, connect and error.
	ErrMsgType = errors.New("ut_holepunch: unknown msg_type")
	// ErrAddrType is an addr_type other than IPv4 (0) and IPv6 (1).
	ErrAddrType = errors.New("ut_holepunch: unknown addr_type")
	// ErrZeroCode is an error message whose err_code is 0, which says
	// nothing of what failed. Append returns it too, rather than send one.
	ErrZeroCode = errors.New("ut_holepunch: error message without an err_code")
)

// ErrUnsupportedAddr is returned by Append for an address that is neither
// IPv4 nor IPv6 (the zero AddrPort).
var ErrUnsupportedAddr = errors.New("ut_holepunch: address is neither IPv4 nor IPv6")
