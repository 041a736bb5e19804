// A JS reference node (peer-exchange 2.2.0) driven by pex's interop tests.
// Flags: --network ID  --listen PORT  --connect HOST:PORT (repeatable)
//        --hello TEXT  --echo  --hold-first-write
//        --ice-server URL (repeatable)  --turn-user NAME  --turn-pass PASSWORD
// Commands on stdin, one a line: getnewpeer | peers | send TEXT | quit
// Every event is one JSON object a line on stdout.
'use strict'
const net = require('net')
const readline = require('readline')
const Exchange = require('peer-exchange')
const wrtc = require('@roamhq/wrtc')

const args = process.argv.slice(2)
const opt = { connect: [], iceServers: [] }
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--network') opt.network = args[++i]
  else if (a === '--listen') opt.listen = Number(args[++i])
  else if (a === '--connect') opt.connect.push(args[++i])
  else if (a === '--hello') opt.hello = args[++i]
  else if (a === '--echo') opt.echo = true
  else if (a === '--hold-first-write') opt.holdFirstWrite = true
  else if (a === '--ice-server') opt.iceServers.push(args[++i])
  else if (a === '--turn-user') opt.turnUser = args[++i]
  else if (a === '--turn-pass') opt.turnPass = args[++i]
  else { console.error('unknown flag ' + a); process.exit(2) }
}

function out (ev) { process.stdout.write(JSON.stringify(ev) + '\n') }
process.on('uncaughtException', (err) => out({ event: 'uncaught', error: String(err && err.message) }))

// wrtc loses a data channel message that reaches the answering side before
// its JavaScript has taken the new channel, and peer-exchange's initiator
// writes the moment its channel opens: between two JS nodes, under load, the
// answerer then misses the magic and drops the link ("Invalid magic value").
// pex's own WebRTC initiator waits for the answerer's first message before
// writing; --hold-first-write makes this node's initiators do the same, for
// tests whose two WebRTC ends are both this reference.
if (opt.holdFirstWrite) {
  const Peer = require('simple-peer')
  const write = Peer.prototype._write
  Peer.prototype._write = function (chunk, enc, cb) {
    if (!this.initiator || this._heardFirst) return write.call(this, chunk, enc, cb)
    this._held = [chunk, enc, cb] // a Writable calls _write once at a time
  }
  const onMessage = Peer.prototype._onChannelMessage
  Peer.prototype._onChannelMessage = function (event) {
    onMessage.call(this, event)
    if (this._heardFirst) return
    this._heardFirst = true
    const held = this._held
    this._held = null
    if (held) write.apply(this, held)
  }
}

const iceServers = opt.iceServers.map((urls) => urls.startsWith('turn')
  ? { urls, username: opt.turnUser, credential: opt.turnPass }
  : { urls })
const ex = new Exchange(opt.network || 'pxp-mesh', { wrtc, rtcConfig: { iceServers } })
const streams = new Set()

const seen = new WeakSet()
function onData (stream, how) {
  if (seen.has(stream)) return
  seen.add(stream)
  streams.add(stream)
  out({ event: 'connect', how })
  if (opt.hello) stream.write(opt.hello + '\n')
  let buf = ''
  stream.on('data', (d) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      out({ event: 'data', line })
      if (opt.echo && !line.startsWith('echo:')) stream.write('echo:' + line + '\n')
    }
  })
  stream.on('error', (err) => out({ event: 'stream-error', error: String(err.message) }))
  stream.on('close', () => streams.delete(stream))
  stream.on('end', () => streams.delete(stream))
}

ex.on('connect', (stream) => onData(stream, 'event'))
ex.on('peer', () => out({ event: 'peer', peers: ex.peers.length }))
ex.on('disconnect', () => out({ event: 'disconnect', peers: ex.peers.length }))
ex.on('peerError', (err) => out({ event: 'peer-error', error: String(err.message) }))
ex.on('error', (err) => out({ event: 'error', error: String(err.message) }))

function handle (err, stream, how) {
  if (err) return out({ event: 'connect-error', how, error: String(err.message) })
  onData(stream, how)
}

if (opt.listen !== undefined) {
  const server = net.createServer((sock) => {
    sock.on('error', () => {})
    ex.accept(sock, (err, stream) => handle(err, stream, 'accept'))
  })
  server.listen(opt.listen, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }))
}
for (const addr of opt.connect) {
  const [host, port] = addr.split(':')
  const sock = net.connect(Number(port), host, () => {
    ex.connect(sock, (err, stream) => handle(err, stream, 'connect'))
  })
  sock.on('error', (err) => out({ event: 'connect-error', how: 'connect', error: String(err.message) }))
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const [cmd, ...rest] = line.split(' ')
  if (cmd === 'getnewpeer') {
    const t0 = process.hrtime.bigint()
    ex.getNewPeer((err, stream) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      if (err) return out({ event: 'getnewpeer', ok: false, error: String(err.message), ms })
      out({ event: 'getnewpeer', ok: true, ms, peers: ex.peers.length })
      onData(stream, 'getnewpeer')
    })
  } else if (cmd === 'peers') {
    out({ event: 'peers', peers: ex.peers.length })
  } else if (cmd === 'send') {
    for (const s of streams) s.write(rest.join(' ') + '\n')
    out({ event: 'sent', streams: streams.size })
  } else if (cmd === 'quit') {
    ex.close()
    process.exit(0)
  }
})
rl.on('close', () => { ex.close(); process.exit(0) })
