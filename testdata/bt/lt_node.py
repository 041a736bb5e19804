#!/usr/bin/python3
# A libtorrent (python3-libtorrent, Debian) node driven by pex's interop
# tests. DHT and LSD are off; UPnP and NAT-PMP are off unless --portmap is
# given (only behind a lab router that answers them); uTP is off unless --utp is
# given, and --no-tcp turns TCP off both ways (so that only uTP is left).
# Prints one JSON object a line: {"event":"listening"}, then
# {"event":"peers","peers":[...]} twice a second, where source is
# libtorrent's peer_source_flags (4 = pex), utp says whether the link runs
# over uTP and holepunched whether libtorrent opened it on a BEP 55 connect
# message; with --log-holepunch, each of libtorrent's HOLEPUNCH log lines
# as {"event":"holepunch","msg":...}.
#
# ut_holepunch needs no setting: libtorrent 2.0 lists it in every extended
# handshake it sends (bt_peer_connection::write_extensions), uTP on or off.
# What uTP changes is what it does with a BEP 55 connect message: it dials
# the named peer over uTP only when enable_outgoing_utp is on.
import argparse, faulthandler, json, sys, time
import libtorrent as lt

# A crash inside libtorrent prints every thread's Python stack to stderr,
# for the test's report.
faulthandler.enable()

# An alert is valid only until the next pop_alerts, and the binding's
# wait_for_alert hands back a reference to one: keeping any alert past
# the next pop is a use after free (arvidn/libtorrent#8295, #8299). The
# SIGSEGVs this script died of now and then were on the line that called
# wait_for_alert. So alerts are only read here, inside a function whose
# locals die before the next pop, and the wait is a plain sleep.
def alerts(handle):
    for al in s.pop_alerts():
        handle(al)

def nap(seconds):
    time.sleep(max(0.001, min(seconds, 0.05)))

ap = argparse.ArgumentParser()
ap.add_argument('--torrent', required=True)
ap.add_argument('--save', required=True)
ap.add_argument('--listen', required=True)  # IP:PORT, or several, comma-separated ("0.0.0.0:6881,[::]:6881")
ap.add_argument('--peer', action='append', default=[])
ap.add_argument('--seed', action='store_true')
ap.add_argument('--duration', type=float, default=60)
ap.add_argument('--download-rate', type=int, default=0)  # bytes/s, 0 = unlimited
ap.add_argument('--block', action='append', default=[])  # refuse this IP both ways
ap.add_argument('--utp', action='store_true')  # accept and dial uTP
ap.add_argument('--no-tcp', action='store_true')  # neither accept nor dial TCP
ap.add_argument('--log-holepunch', action='store_true')  # print libtorrent's HOLEPUNCH log lines
ap.add_argument('--connect-timeout', type=int, default=0)  # peer_connect_timeout, s (0: libtorrent's 15)
ap.add_argument('--portmap', action='store_true')  # map the port with UPnP and NAT-PMP: only behind a router the test runs
ap.add_argument('--reconnect-time', type=int, default=0)  # min_reconnect_time, s (0: libtorrent's 60): how soon a peer that failed is tried again
a = ap.parse_args()

def out(ev):
    # Stamped as pex stamps its events (UTC, milliseconds), when printed:
    # alerts are read every half second, so a stamp is that late at most.
    now = time.time()
    ev.setdefault('time', time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now)) + '.%03dZ' % int(now % 1 * 1000))
    sys.stdout.write(json.dumps(ev) + '\n')
    sys.stdout.flush()

# peer_info::utp_socket (1 << 17 in libtorrent 2.0's peer_info.hpp); the
# Python binding does not name it.
UTP_SOCKET = int(getattr(lt.peer_info, 'utp_socket', 1 << 17))
HOLEPUNCHED = int(getattr(lt.peer_info, 'holepunched', 1 << 15))
# A peer still connecting or in its handshakes is listed too: not linked.
NOT_YET = int(lt.peer_info.connecting) | int(lt.peer_info.handshake)

mask = lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification | lt.alert.category_t.connect_notification | lt.alert.category_t.status_notification
if a.portmap:
    mask |= lt.alert.category_t.port_mapping_notification
if a.log_holepunch:
    # Every peer's log: the HOLEPUNCH lines are picked out below.
    mask |= lt.alert.category_t.peer_log_notification
s = lt.session({
    'listen_interfaces': a.listen,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': a.portmap, 'enable_natpmp': a.portmap,
    'enable_incoming_utp': a.utp, 'enable_outgoing_utp': a.utp,
    'enable_incoming_tcp': not a.no_tcp, 'enable_outgoing_tcp': not a.no_tcp,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': mask,
    'alert_queue_size': 100000 if a.log_holepunch else 2000,
    'user_agent': 'libtorrent-test',
    'download_rate_limit': a.download_rate,
    'ignore_limits_on_local_network': False,
})
if a.connect_timeout > 0:
    s.apply_settings({'peer_connect_timeout': a.connect_timeout})
if a.reconnect_time > 0:
    s.apply_settings({'min_reconnect_time': a.reconnect_time})
if a.block:
    f = lt.ip_filter()
    for ip in a.block:
        f.add_rule(ip, ip, 1)  # 1 = blocked
    s.set_ip_filter(f)
params = {'ti': lt.torrent_info(a.torrent), 'save_path': a.save}
if a.seed:
    params['flags'] = lt.torrent_flags.seed_mode
h = s.add_torrent(params)
# The session opens its sockets in the background: "listening" waits for
# them (TCP and, with --utp, uTP), so that a peer told of it is not
# refused by a socket not yet open.
want = ((0 if a.no_tcp else 1) + (1 if a.utp else 0)) * len(a.listen.split(','))
def listening(al):
    global want
    if isinstance(al, lt.listen_succeeded_alert):
        want -= 1
    elif isinstance(al, lt.listen_failed_alert):
        out({'event': 'listen-failed', 'msg': al.message()})
    elif isinstance(al, lt.portmap_alert):
        out({'event': 'portmap', 'external_port': al.external_port, 'msg': al.message()})

deadline = time.time() + 10
while want > 0 and time.time() < deadline:
    nap(0.05)
    alerts(listening)
out({'event': 'listening', 'port': s.listen_port()})
def endpoint(p):  # "IP:PORT" or "[IPv6]:PORT"
    ip, port = p.rsplit(':', 1)
    return ip.strip('[]'), int(port)

for p in a.peer:
    h.connect_peer(endpoint(p))
def report(al):
    if isinstance(al, lt.peer_disconnected_alert):
        out({'event': 'disconnected', 'peer': '%s:%d' % (al.endpoint[0], al.endpoint[1]), 'reason': al.message()})
    elif a.log_holepunch and isinstance(al, lt.peer_log_alert):
        m = al.message()
        if 'HOLEPUNCH' in m:
            out({'event': 'holepunch', 'msg': m})
    elif isinstance(al, lt.portmap_alert):
        # A port mapped at the router: "portmap", with the external port
        # and libtorrent's words (UPnP or NAT-PMP).
        out({'event': 'portmap', 'external_port': al.external_port, 'msg': al.message()})
    elif isinstance(al, lt.portmap_error_alert):
        out({'event': 'portmap-failed', 'msg': al.message()})

end = time.time() + a.duration
redial = time.time() + 5
while time.time() < end:
    if time.time() >= redial:
        # A --peer that is not linked is asked again: libtorrent drops a
        # peer whose first connection failed (one not yet listening, say)
        # and would not try it again for minutes.
        redial = time.time() + 5
        linked = {(pi.ip[0], pi.ip[1]) for pi in h.get_peer_info()}
        for p in a.peer:
            if endpoint(p) not in linked:
                h.connect_peer(endpoint(p))
    # Alerts as they come for half a second (their stamps are when they
    # were printed: this keeps them close), then the peers as they are.
    tick = time.time() + 0.5
    while time.time() < tick:
        nap(tick - time.time())
        alerts(report)
    peers = []
    for pi in h.get_peer_info():
        flags = int(pi.flags)
        peers.append({'ip': pi.ip[0], 'port': pi.ip[1], 'source': int(pi.source),
                      'client': pi.client.decode('utf-8', 'replace') if isinstance(pi.client, bytes) else pi.client,
                      'utp': bool(flags & UTP_SOCKET), 'holepunched': bool(flags & HOLEPUNCHED),
                      'linked': not (flags & NOT_YET)})
    st = h.status()
    out({'event': 'peers', 'peers': peers, 'list_peers': st.list_peers, 'state': str(st.state)})
