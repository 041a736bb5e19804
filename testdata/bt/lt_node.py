#!/usr/bin/python3
# A libtorrent (python3-libtorrent, Debian) node driven by pex's interop
# tests. DHT, LSD, UPnP, NAT-PMP and uTP are off. Prints one JSON object a
# line: {"event":"listening"}, then {"event":"peers","peers":[...]} twice a
# second, where source is libtorrent's peer_source_flags (4 = pex).
import argparse, json, sys, time
import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument('--torrent', required=True)
ap.add_argument('--save', required=True)
ap.add_argument('--listen', required=True)  # IP:PORT
ap.add_argument('--peer', action='append', default=[])
ap.add_argument('--seed', action='store_true')
ap.add_argument('--duration', type=float, default=60)
ap.add_argument('--download-rate', type=int, default=0)  # bytes/s, 0 = unlimited
ap.add_argument('--block', action='append', default=[])  # refuse this IP both ways
a = ap.parse_args()

def out(ev):
    sys.stdout.write(json.dumps(ev) + '\n')
    sys.stdout.flush()

s = lt.session({
    'listen_interfaces': a.listen,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_incoming_utp': False, 'enable_outgoing_utp': False,
    'enable_incoming_tcp': True, 'enable_outgoing_tcp': True,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification | lt.alert.category_t.connect_notification,
    'user_agent': 'libtorrent-test',
    'download_rate_limit': a.download_rate,
    'ignore_limits_on_local_network': False,
})
if a.block:
    f = lt.ip_filter()
    for ip in a.block:
        f.add_rule(ip, ip, 1)  # 1 = blocked
    s.set_ip_filter(f)
params = {'ti': lt.torrent_info(a.torrent), 'save_path': a.save}
if a.seed:
    params['flags'] = lt.torrent_flags.seed_mode
h = s.add_torrent(params)
out({'event': 'listening', 'port': s.listen_port()})
for p in a.peer:
    ip, port = p.rsplit(':', 1)
    h.connect_peer((ip, int(port)))
end = time.time() + a.duration
while time.time() < end:
    peers = []
    for pi in h.get_peer_info():
        peers.append({'ip': pi.ip[0], 'port': pi.ip[1], 'source': int(pi.source),
                      'client': pi.client.decode('utf-8', 'replace') if isinstance(pi.client, bytes) else pi.client})
    st = h.status()
    out({'event': 'peers', 'peers': peers, 'list_peers': st.list_peers, 'state': str(st.state)})
    for al in s.pop_alerts():
        if isinstance(al, lt.peer_disconnected_alert):
            out({'event': 'disconnected', 'peer': '%s:%d' % (al.endpoint[0], al.endpoint[1]), 'reason': al.message()})
    time.sleep(0.5)
