package portmap

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// PCP (RFC 6887), NAT-PMP's successor on the same port: one MAP request,
// answered with the mapped port, the lease and the router's public
// address at once. No maintained Go library speaks it, and the codec is
// two fixed layouts, so it is written here.

// PCP's wire constants.
const (
	pcpPort        = 5351
	pcpVersion     = 2
	pcpOpMap       = 1
	pcpResponseBit = 0x80
	pcpHeaderLen   = 24
	pcpMapLen      = 36
	pcpMaxPacket   = 1100 // RFC 6887 section 7: no PCP message is longer
	// pcpFirstWait is the first retransmission wait; it doubles up to
	// natpmpTimeout in all (RFC 6887 starts at 3 s; a router on the LAN
	// answers in a millisecond).
	pcpFirstWait = 250 * time.Millisecond
)

// pcpResults names PCP's result codes (RFC 6887 section 7.4).
var pcpResults = [...]string{
	1: "UNSUPP_VERSION", 2: "NOT_AUTHORIZED", 3: "MALFORMED_REQUEST", 4: "UNSUPP_OPCODE",
	5: "UNSUPP_OPTION", 6: "MALFORMED_OPTION", 7: "NETWORK_FAILURE", 8: "NO_RESOURCES",
	9: "UNSUPP_PROTOCOL", 10: "USER_EX_QUOTA", 11: "CANNOT_PROVIDE_EXTERNAL", 12: "ADDRESS_MISMATCH",
	13: "EXCESSIVE_REMOTE_PEERS",
}

// pcpError is a result code other than success.
type pcpError uint8

func (e pcpError) Error() string {
	if int(e) < len(pcpResults) && pcpResults[e] != "" {
		return "pcp: " + pcpResults[e]
	}
	return fmt.Sprintf("pcp: result code %d", uint8(e))
}

// pcpMapping is what a MAP response grants.
type pcpMapping struct {
	port     int
	lifetime time.Duration
	external netip.Addr
}

// pcp asks over PCP.
type pcp struct {
	server netip.AddrPort // the router's PCP port
	proto  byte           // 6 (TCP) or 17 (UDP)
	nonce  [12]byte       // one per mapping: renewals and the delete name it
	ext    netip.Addr     // from the last MAP response
}

func newPCP(gw netip.Addr, proto string) *pcp {
	p := &pcp{server: netip.AddrPortFrom(gw, pcpPort), proto: 6}
	if proto == "udp" {
		p.proto = 17
	}
	rand.Read(p.nonce[:])
	return p
}

func (p *pcp) add(ctx context.Context, internal, external int, lifetime time.Duration) (int, time.Duration, error) {
	m, err := p.exchange(ctx, internal, external, lifetime)
	if err != nil {
		return 0, 0, err
	}
	if m.port == 0 || !m.external.IsValid() || m.external.IsUnspecified() {
		return 0, 0, errors.New("pcp: the router mapped no port")
	}
	p.ext = m.external
	return m.port, m.lifetime, nil
}

func (p *pcp) remove(ctx context.Context, internal, _ int) error {
	_, err := p.exchange(ctx, internal, 0, 0) // a lifetime of 0 deletes it
	return err
}

func (p *pcp) externalIP(context.Context) (netip.Addr, error) {
	if !p.ext.IsValid() {
		return netip.Addr{}, errors.New("pcp: no mapping yet")
	}
	return p.ext, nil
}

// exchange sends one MAP request and waits for its answer, retransmitting
// with a doubling wait within natpmpTimeout.
func (p *pcp) exchange(ctx context.Context, internal, external int, lifetime time.Duration) (pcpMapping, error) {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(p.server))
	if err != nil {
		return pcpMapping{}, err
	}
	defer c.Close()
	client := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr()
	req := appendPCPMap(nil, client, p.nonce, p.proto, internal, external, lifetime)
	end := time.Now().Add(natpmpTimeout)
	d, ctxBound := ctx.Deadline()
	if ctxBound = ctxBound && d.Before(end); ctxBound {
		end = d
	}
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, pcpMaxPacket)
	for wait := pcpFirstWait; time.Now().Before(end); wait *= 2 {
		if _, err := c.Write(req); err != nil {
			return pcpMapping{}, err
		}
		dl := time.Now().Add(wait)
		if dl.After(end) {
			dl = end
		}
		c.SetReadDeadline(dl)
		for {
			n, err := c.Read(buf)
			if err != nil {
				break // this wait is over: send again
			}
			if m, err := parsePCPMap(buf[:n], p.nonce, p.proto, internal); !errors.Is(err, errNotOurs) {
				return m, err
			}
		}
		if ctx.Err() != nil {
			return pcpMapping{}, ctx.Err()
		}
	}
	if ctx.Err() != nil {
		return pcpMapping{}, ctx.Err()
	}
	if ctxBound {
		return pcpMapping{}, context.DeadlineExceeded // its timer may not have fired yet
	}
	return pcpMapping{}, fmt.Errorf("pcp: no answer from %v within %v", p.server, natpmpTimeout)
}

// errNotOurs: a datagram that is not the answer to our request, ignored.
var errNotOurs = errors.New("pcp: not an answer to our request")

// appendPCPMap appends a MAP request: the common header with our address
// (IPv4-mapped) and the lease, then the opcode's nonce, protocol, ports
// and, as the suggested external address, "any IPv4 address".
func appendPCPMap(b []byte, client netip.Addr, nonce [12]byte, proto byte, internal, external int, lifetime time.Duration) []byte {
	b = append(b, pcpVersion, pcpOpMap, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(lifetime/time.Second))
	c16 := client.As16() // an IPv4 address comes IPv4-mapped, as PCP wants it
	b = append(b, c16[:]...)
	b = append(b, nonce[:]...)
	b = append(b, proto, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(internal))
	b = binary.BigEndian.AppendUint16(b, uint16(external))
	anyV4 := [16]byte{10: 0xff, 11: 0xff} // ::ffff:0.0.0.0
	return append(b, anyV4[:]...)
}

// parsePCPMap reads a MAP response to the request with nonce, proto and
// internal port: errNotOurs for anything else, a pcpError for a result
// other than success.
func parsePCPMap(b []byte, nonce [12]byte, proto byte, internal int) (pcpMapping, error) {
	if len(b) < pcpHeaderLen+pcpMapLen || len(b) > pcpMaxPacket || b[1] != pcpResponseBit|pcpOpMap {
		if len(b) >= 4 && b[1]&pcpResponseBit != 0 && b[3] == 1 {
			return pcpMapping{}, pcpError(1) // a NAT-PMP-only router: UNSUPP_VERSION
		}
		return pcpMapping{}, errNotOurs
	}
	op := b[pcpHeaderLen:]
	if [12]byte(op[:12]) != nonce || op[12] != proto || int(binary.BigEndian.Uint16(op[16:18])) != internal {
		return pcpMapping{}, errNotOurs
	}
	if b[0] != pcpVersion {
		return pcpMapping{}, pcpError(1)
	}
	if b[3] != 0 {
		return pcpMapping{}, pcpError(b[3])
	}
	return pcpMapping{
		port:     int(binary.BigEndian.Uint16(op[18:20])),
		lifetime: time.Duration(binary.BigEndian.Uint32(b[4:8])) * time.Second,
		external: netip.AddrFrom16([16]byte(op[20:36])).Unmap(),
	}, nil
}
