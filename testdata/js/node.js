// A JS reference node (peer-exchange 2.2.0) driven by pex's interop tests.
// Flags: --network ID  --listen PORT  --connect HOST:PORT (repeatable)
//        --hello TEXT  --echo
// Commands on stdin, one a line: getnewpeer | peers | send TEXT | quit
// Every event is one JSON object a line on stdout.
'use strict'
const net = require('net')
const readline = require('readline')
const Exchange = require('peer-exchange')
const wrtc = require('@roamhq/wrtc')

const args = process.argv.slice(2)
const opt = { connect: [] }
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--network') opt.network = args[++i]
  else if (a === '--listen') opt.listen = Number(args[++i])
  else if (a === '--connect') opt.connect.push(args[++i])
  else if (a === '--hello') opt.hello = args[++i]
  else if (a === '--echo') opt.echo = true
  else { console.error('unknown flag ' + a); process.exit(2) }
}

function out (ev) { process.stdout.write(JSON.stringify(ev) + '\n') }
process.on('uncaughtException', (err) => out({ event: 'uncaught', error: String(err && err.message) }))

const ex = new Exchange(opt.network || 'pxp-mesh', { wrtc, rtcConfig: { iceServers: [] } })
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
