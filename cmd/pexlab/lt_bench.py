#!/usr/bin/python3
# libtorrent (python3-libtorrent, Debian) as the baseline of `pex bench
# swarm`: it seeds a small torrent of its own making, takes as many peers
# as it is sent (connections_limit --peers), and keeps them. DHT, LSD,
# UPnP, NAT-PMP and uTP are off; the inactivity timeouts are an hour, so
# that idle peers stay. Prints one JSON object a line:
# {"event":"ready","infohash":HEX,"port":P}, then {"event":"status","peers":N}
# every second.
import argparse, hashlib, json, os, sys, time
import libtorrent as lt

ap = argparse.ArgumentParser()
ap.add_argument('--listen', required=True)  # IP:PORT
ap.add_argument('--dir', required=True)
ap.add_argument('--peers', type=int, required=True)
ap.add_argument('--duration', type=float, default=600)
a = ap.parse_args()

def out(ev):
    sys.stdout.write(json.dumps(ev) + '\n')
    sys.stdout.flush()

path = os.path.join(a.dir, 'bench.bin')
with open(path, 'wb') as f:
    f.write(b'pex bench swarm\n' * 1024)
fs = lt.file_storage()
lt.add_files(fs, path)
ct = lt.create_torrent(fs, 16384)
lt.set_piece_hashes(ct, a.dir)
ti = lt.torrent_info(lt.bencode(ct.generate()))

s = lt.session({
    'listen_interfaces': a.listen,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_incoming_utp': False, 'enable_outgoing_utp': False,
    'connections_limit': 2 * a.peers + 100,  # libtorrent keeps a share of it for dials
    'listen_queue_size': 2000,
    'max_peerlist_size': 2 * a.peers + 100, 'max_paused_peerlist_size': 2 * a.peers + 100,
    'inactivity_timeout': 3600, 'peer_timeout': 3600, 'handshake_timeout': 60,
    'close_redundant_connections': False,
    'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.peer_notification | lt.alert.category_t.connect_notification,
    'user_agent': 'libtorrent-bench',
})
h = s.add_torrent({'ti': ti, 'save_path': a.dir, 'flags': lt.torrent_flags.seed_mode})
h.set_max_connections(2 * a.peers + 100)
out({'event': 'ready', 'infohash': str(ti.info_hash()), 'port': s.listen_port()})
end = time.time() + a.duration
reasons = {}
try:
    while time.time() < end:
        for al in s.pop_alerts():
            if isinstance(al, lt.peer_disconnected_alert):
                r = al.message()[-90:]
                reasons[r] = reasons.get(r, 0) + 1
        out({'event': 'status', 'peers': h.status().num_peers, 'disconnects': reasons})
        time.sleep(1)
except KeyboardInterrupt:
    pass  # the bench's way of saying it is done
