package portmap

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/huin/goupnp/dcps/internetgateway2"
)

// igd is the part of a UPnP WANIPConnection service (version 1 or 2)
// that mapping needs.
type igd interface {
	AddPortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string, internalPort uint16,
		internalClient string, enabled bool, description string, leaseDuration uint32) error
	DeletePortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string) error
	GetExternalIPAddressCtx(ctx context.Context) (string, error)
}

// upnp asks over UPnP IGD.
type upnp struct {
	c     igd
	proto string // "TCP" or "UDP"
	local string // our address on the LAN, the mapping's internal client
	desc  string
}

// discoverUPnP finds the gateway's WANIPConnection service (IGDv2 first).
func discoverUPnP(ctx context.Context, gw netip.Addr, proto, desc string) (protocol, error) {
	local, err := localAddrTo(gw)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	u := &upnp{proto: strings.ToUpper(proto), local: local.String(), desc: desc}
	if cs, _, err := internetgateway2.NewWANIPConnection2ClientsCtx(ctx); err == nil && len(cs) > 0 {
		u.c = cs[0]
		return u, nil
	}
	if cs, _, err := internetgateway2.NewWANIPConnection1ClientsCtx(ctx); err == nil && len(cs) > 0 {
		u.c = cs[0]
		return u, nil
	}
	return nil, errors.New("no UPnP internet gateway found")
}

func (u *upnp) add(ctx context.Context, internal, external int, lifetime time.Duration) (int, time.Duration, error) {
	err := u.c.AddPortMappingCtx(ctx, "", uint16(external), u.proto, uint16(internal), u.local, true, u.desc, uint32(lifetime/time.Second))
	if err != nil {
		return 0, 0, err
	}
	return external, lifetime, nil
}

func (u *upnp) remove(ctx context.Context, _, external int) error {
	return u.c.DeletePortMappingCtx(ctx, "", uint16(external), u.proto)
}

func (u *upnp) externalIP(ctx context.Context) (netip.Addr, error) {
	s, err := u.c.GetExternalIPAddressCtx(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	return netip.ParseAddr(s)
}
