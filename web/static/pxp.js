// PXP for browsers: the Peer Exchange Protocol of peer-exchange 2.2.0,
// written for pex's browser demo. One Node holds Sessions; a Session runs
// PXP over a pipe (a WebSocket, a relay stream inside another session, or a
// WebRTC data channel). Wire format: see the pxp and mux packages of pex.
(() => {
'use strict'

const MAGIC = new TextEncoder().encode('#PXP#')
// How a data channel begins when the peer's first message, its magic, was
// lost: with the frame that opens its "pxp" stream (channel 0, NEW_STREAM).
// Chromium now and then loses the first message a page sends on a channel
// the other side opened; a link upgraded from a PXP session takes it.
const LOST_MAGIC = [0, 3, 112, 120, 112]
const enc = new TextEncoder()
const dec = new TextDecoder()
const MAX_FRAME = 1 << 20

function randomHex (n) {
  const b = new Uint8Array(n)
  crypto.getRandomValues(b)
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

function varint (n, out) {
  while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
}

function frame (ch, type, payload) {
  const h = []
  varint(ch * 8 + type, h)
  varint(payload.length, h)
  const b = new Uint8Array(h.length + payload.length)
  b.set(h)
  b.set(payload, h.length)
  return b
}

function concat (a, b) {
  if (a.length === 0) return b
  const c = new Uint8Array(a.length + b.length)
  c.set(a)
  c.set(b, a.length)
  return c
}

// Mux: multiplex 6.x framing over a pipe, shared named streams.
class Mux {
  constructor (pipe, onError) {
    this.pipe = pipe
    this.onError = onError
    this.buf = new Uint8Array(0)
    this.streams = new Map() // name -> stream
    this.remote = new Map() // peer channel id -> name
    this.pending = new Map() // name -> {chunks, ended} for streams not asked for yet
    this.nextId = 0
    this.magic = false
    this.upgraded = false // a WebRTC link from an upgrade: see LOST_MAGIC
  }

  stream (name) {
    const st = { name, id: null, onData: null, onEnd: null, ended: false, chunks: [], remoteEnded: false }
    const p = this.pending.get(name)
    if (p) { st.chunks = p.chunks; st.remoteEnded = p.ended; this.pending.delete(name) }
    this.streams.set(name, st)
    return st
  }

  listen (st, onData, onEnd) {
    st.onData = onData
    st.onEnd = onEnd
    for (const c of st.chunks) onData(c)
    st.chunks = []
    if (st.remoteEnded && onEnd) onEnd()
  }

  write (st, bytes) {
    if (st.ended) return
    if (st.id === null) {
      st.id = this.nextId++
      this.pipe.send(concat(frame(st.id, 0, enc.encode(st.name)), frame(st.id, 2, bytes)))
      return
    }
    this.pipe.send(frame(st.id, 2, bytes))
  }

  end (st) {
    if (st.ended) return
    if (st.id === null) { st.id = this.nextId++; this.pipe.send(frame(st.id, 0, enc.encode(st.name))) }
    st.ended = true
    this.pipe.send(frame(st.id, 4, new Uint8Array(0))) // END only, never ERROR
    this.streams.delete(st.name)
  }

  input (bytes) {
    this.buf = concat(this.buf, bytes)
    if (!this.magic) {
      if (this.buf.length < 5) return
      const lost = this.upgraded && LOST_MAGIC.every((b, i) => this.buf[i] === b)
      if (!lost) {
        for (let i = 0; i < 5; i++) if (this.buf[i] !== MAGIC[i]) return this.onError(new Error('invalid magic'))
        this.buf = this.buf.slice(5)
      }
      this.magic = true
    }
    for (;;) {
      let off = 0
      const read = () => {
        let x = 0; let mul = 1
        for (let i = 0; i < 8; i++) {
          if (off >= this.buf.length) return -1
          const b = this.buf[off++]
          x += (b & 0x7f) * mul
          if (b < 0x80) return x
          mul *= 128
        }
        throw new Error('varint too long')
      }
      const header = read()
      if (header < 0) return
      const len = read()
      if (len < 0) return
      if (len > MAX_FRAME) return this.onError(new Error('frame too large'))
      if (this.buf.length < off + len) return
      const payload = this.buf.slice(off, off + len)
      this.buf = this.buf.slice(off + len)
      this.handle(Math.floor(header / 8), header % 8, payload)
    }
  }

  handle (ch, type, payload) {
    if (type % 2 === 1) return // about our own channels: nothing to do
    if (type === 0) {
      const name = dec.decode(payload) || String(ch)
      this.remote.set(ch, name)
      if (!this.streams.has(name) && !this.pending.has(name) && this.pending.size < 8) this.pending.set(name, { chunks: [], ended: false })
      return
    }
    const name = this.remote.get(ch)
    if (name === undefined) return
    const st = this.streams.get(name)
    const p = this.pending.get(name)
    if (type === 2) {
      if (st) { if (st.onData) st.onData(payload); else st.chunks.push(payload) } else if (p) p.chunks.push(payload)
    } else { // END or ERROR: this stream only
      this.remote.delete(ch)
      if (st) { st.remoteEnded = true; if (st.onEnd) st.onEnd() } else if (p) p.ended = true
    }
  }
}

// Session: one PXP link.
class Session {
  constructor (node, pipe, { outgoing, relayed, label }) {
    this.node = node
    this.pipe = pipe
    this.outgoing = outgoing
    this.relayed = relayed
    this.label = label
    this.nonce = 1
    this.waiting = new Map()
    this.closed = false
    this.remoteInfo = null
    this.mux = new Mux(pipe, (err) => this.close(err))
    this.mux.upgraded = label === 'webrtc'
    pipe.onData = (b) => { try { this.mux.input(b) } catch (err) { this.close(err) } }
    pipe.onClose = () => this.close()
    this.ready = new Promise((resolve, reject) => { this.resolveReady = resolve; this.rejectReady = reject })
    this.data = new Promise((resolve) => { this.resolveData = resolve })
    pipe.send(MAGIC)
    this.ctl = this.mux.stream('pxp')
    let line = ''
    this.mux.listen(this.ctl, (b) => {
      line += dec.decode(b, { stream: true })
      let i
      while ((i = line.indexOf('\n')) >= 0) {
        const l = line.slice(0, i).replace(/\r$/, '')
        line = line.slice(i + 1)
        if (l.trim()) this.onLine(l)
      }
    }, () => this.close())
    this.send('hello', '0', [1, node.connectInfo, [node.network]])
  }

  send (cmd, nonce, args) {
    if (this.closed) return
    this.mux.write(this.ctl, enc.encode(JSON.stringify([cmd, nonce, args === undefined ? null : args]) + '\n'))
  }

  request (cmd, args, timeout = 10000) {
    const nonce = (this.nonce++).toString(36)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiting.delete(nonce); reject(new Error(cmd + ' timed out')) }, timeout)
      this.waiting.set(nonce, (res) => { clearTimeout(t); resolve(res) })
      this.send(cmd, nonce, args)
    })
  }

  onLine (l) {
    let m
    try { m = JSON.parse(l) } catch (err) { return this.close(new Error('invalid JSON')) }
    if (!Array.isArray(m) || m.length !== 3 || typeof m[0] !== 'string') return this.close(new Error('invalid PXP message'))
    const [cmd, nonce, args] = m
    if (cmd === 'res') { const w = this.waiting.get(nonce); if (w) { this.waiting.delete(nonce); w(args) } return }
    if (cmd === 'hello') {
      if (this.remoteInfo !== null) return
      if (!Array.isArray(args) || args[0] !== 1 || !Array.isArray(args[2]) || !args[2].includes(this.node.network)) {
        return this.close(new Error('bad hello'))
      }
      this.remoteInfo = args[1] || {}
      this.resolveReady()
      return
    }
    if (this.remoteInfo === null) return
    switch (cmd) {
      case 'connect': {
        if (this.dataStream) return this.send('res', nonce, 'Peer tried to connect to network "' + args + '" twice')
        this.dataStream = this.mux.stream('data:' + this.node.network)
        this.send('res', nonce, null)
        this.resolveData(this.dataStream)
        return
      }
      case 'getpeers': return this.send('res', nonce, [null, []]) // browsers do not relay
      case 'relay': return this.send('res', nonce, 'this node does not relay')
      case 'incoming': {
        const id = Array.isArray(args) ? args[0] : null
        if (typeof id !== 'string') return this.close(new Error('bad incoming'))
        const st = this.mux.stream('relay:' + id)
        this.send('res', nonce, null)
        this.node.acceptRelayed(new Session(this.node, streamPipe(this.mux, st), { outgoing: false, relayed: true, label: 'relay' }))
        return
      }
      case 'upgrade': {
        if (!args || args.transport !== 'webrtc' || !this.relayed) return this.close(new Error('unsupported upgrade'))
        if (!this.rtc) {
          if (this.outgoing) return
          this.rtc = new Rtc(this, false)
        }
        this.rtc.signal(args.signal)
        return
      }
    }
  }

  async connectData () {
    await this.ready
    this.dataStream = this.mux.stream('data:' + this.node.network)
    const res = await this.request('connect', this.node.network)
    if (res !== null) throw new Error(String(res))
    return this.dataStream
  }

  close (err) {
    if (this.closed) return
    this.closed = true
    if (this.rtc && !this.rtc.done) this.rtc.close()
    if (err) this.node.log('link closed: ' + err.message)
    this.rejectReady(err || new Error('closed'))
    this.pipe.close()
    this.node.removeSession(this)
  }
}

// streamPipe carries a nested session over a relay stream.
function streamPipe (mux, st) {
  const pipe = {
    onData: null,
    onClose: null,
    send: (b) => mux.write(st, b),
    close: () => mux.end(st)
  }
  mux.listen(st, (b) => pipe.onData && pipe.onData(b), () => pipe.onClose && pipe.onClose())
  return pipe
}

function wsPipe (ws) {
  const pipe = { onData: null, onClose: null, send: (b) => ws.readyState === 1 && ws.send(b), close: () => ws.close() }
  ws.binaryType = 'arraybuffer'
  ws.onmessage = (e) => { if (typeof e.data !== 'string' && pipe.onData) pipe.onData(new Uint8Array(e.data)) }
  ws.onclose = () => pipe.onClose && pipe.onClose()
  return pipe
}

function dcPipe (dc, pc) {
  const pipe = {
    onData: null,
    onClose: null,
    send: (b) => { for (let i = 0; i < b.length; i += 16384) dc.send(b.slice(i, i + 16384)) },
    close: () => { dc.close(); pc.close() },
    // pair: how the link's ICE pair connects, from the connection's
    // stats: each side's candidate type and address (an mDNS name shows
    // as the address the peer was reached at).
    pair: async () => {
      const stats = await pc.getStats()
      let pairStat = null
      stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pairStat = stats.get(r.selectedCandidatePairId) })
      if (!pairStat) stats.forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pairStat = r })
      if (!pairStat) return null
      const side = (c) => c ? { type: c.candidateType, address: c.address || c.ip || '', port: c.port } : null
      return { local: side(stats.get(pairStat.localCandidateId)), remote: side(stats.get(pairStat.remoteCandidateId)) }
    }
  }
  dc.binaryType = 'arraybuffer'
  dc.onmessage = (e) => pipe.onData && pipe.onData(new Uint8Array(e.data))
  dc.onclose = () => pipe.onClose && pipe.onClose()
  return pipe
}

// Rtc: the WebRTC upgrade with simple-peer 6's signal shapes.
class Rtc {
  constructor (session, initiator) {
    this.session = session
    this.node = session.node
    this.initiator = initiator
    this.done = false
    this.descSent = false
    this.early = []
    this.haveRemote = false
    this.remoteCands = []
    this.pc = new RTCPeerConnection({ iceServers: this.node.iceServers })
    this.pc.onicecandidate = (e) => {
      if (!e.candidate || !e.candidate.candidate) return // never send end-of-candidates
      if (this.node.loopbackOnly && !/ (127\.0\.0\.1|::1) /.test(e.candidate.candidate)) return
      const c = { candidate: e.candidate.candidate, sdpMLineIndex: e.candidate.sdpMLineIndex, sdpMid: e.candidate.sdpMid }
      if (!this.descSent) this.early.push(c); else this.sendSignal({ candidate: c })
    }
    this.opened = new Promise((resolve, reject) => {
      this.resolveOpen = resolve
      this.rejectOpen = reject
      setTimeout(() => reject(new Error('data channel not open after 10 s')), 10000)
    })
    const watch = (dc) => {
      dc.onopen = () => { this.done = true; resolve2(dc) }
      const resolve2 = (dc) => this.resolveOpen(dcPipe(dc, this.pc))
    }
    if (initiator) {
      watch(this.pc.createDataChannel(randomHex(20)))
      this.pc.createOffer().then((o) => this.pc.setLocalDescription(o)).then(() => this.sendDescription()).catch((err) => this.rejectOpen(err))
    } else {
      this.pc.ondatachannel = (e) => watch(e.channel)
    }
  }

  sendSignal (sig) {
    this.session.send('upgrade', (this.session.nonce++).toString(36), { transport: 'webrtc', signal: sig })
  }

  sendDescription () {
    const d = this.pc.localDescription
    this.sendSignal({ type: d.type, sdp: d.sdp })
    this.descSent = true
    for (const c of this.early) this.sendSignal({ candidate: c })
    this.early = []
  }

  async signal (sig) {
    try {
      if (sig && sig.candidate) {
        if (this.node.loopbackOnly && !/ (127\.0\.0\.1|::1) /.test(sig.candidate.candidate)) return
        if (!this.haveRemote) { this.remoteCands.push(sig.candidate); return }
        await this.pc.addIceCandidate(sig.candidate)
      } else if (sig && (sig.type === 'offer' || sig.type === 'answer')) {
        let sdp = sig.sdp
        if (this.node.loopbackOnly) sdp = sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate') || / (127\.0\.0\.1|::1) /.test(l)).join('\r\n')
        await this.pc.setRemoteDescription({ type: sig.type, sdp })
        this.haveRemote = true
        for (const c of this.remoteCands) await this.pc.addIceCandidate(c)
        this.remoteCands = []
        if (sig.type === 'offer') {
          await this.pc.setLocalDescription(await this.pc.createAnswer())
          this.sendDescription()
          const pipe = await this.opened
          const s = new Session(this.node, pipe, { outgoing: false, relayed: false, label: 'webrtc' })
          this.node.addSession(s)
          const data = await s.data
          this.node.onConnect(s, data)
          this.session.close()
        }
      }
    } catch (err) {
      this.node.log('upgrade failed: ' + err.message)
      this.session.close(err)
    }
  }

  close () { this.pc.close() }
}

// Node: a browser PXP node.
class Node {
  constructor (network, { loopbackOnly, iceServers, onConnect, onLog, onPeers }) {
    this.network = network
    this.iceServers = iceServers || []
    this.id = randomHex(8)
    this.connectInfo = { pxp: true, relay: false, webrtc: true, id: this.id }
    this.sessions = new Set()
    this.loopbackOnly = !!loopbackOnly
    this.onConnectCb = onConnect || (() => {})
    this.log = onLog || (() => {})
    this.onPeers = onPeers || (() => {})
  }

  addSession (s) { this.sessions.add(s); s.ready.then(() => this.onPeers(), () => {}) }
  removeSession (s) { if (this.sessions.delete(s)) this.onPeers() }
  peers () { return [...this.sessions].filter((s) => s.remoteInfo !== null && !s.relayed && !s.closed) }
  knows (id) { return id === this.id || this.peers().some((s) => s.remoteInfo && s.remoteInfo.id === id) }
  onConnect (s, data) { this.onConnectCb(s, data) }

  async connectWebSocket (url) {
    const ws = new WebSocket(url)
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('WebSocket failed')) })
    const s = new Session(this, wsPipe(ws), { outgoing: true, relayed: false, label: 'ws' })
    this.addSession(s)
    const data = await s.connectData()
    this.onConnect(s, data)
    return s
  }

  acceptRelayed (s) {
    // Wait for an upgrade (or a connect, from requesters without WebRTC).
    s.data.then((data) => { this.addSession(s); this.onConnect(s, data) })
  }

  async getNewPeer () {
    const vias = this.peers()
    if (vias.length === 0) throw new Error('not connected to any peers')
    const via = vias[Math.floor(Math.random() * vias.length)]
    const res = await via.request('getpeers', this.network)
    if (!Array.isArray(res) || res[0] !== null || !Array.isArray(res[1])) throw new Error('getpeers refused: ' + JSON.stringify(res))
    const cands = res[1].filter((c) => c && c.connectInfo && c.connectInfo.pxp && c.connectInfo.webrtc && !this.knows(c.connectInfo.id))
    if (cands.length === 0) throw new Error('no new candidates')
    const c = cands[Math.floor(Math.random() * cands.length)]
    const st = via.mux.stream('relay:' + c.id)
    const r = await via.request('relay', [c.id])
    if (r !== null) throw new Error('relay refused: ' + r)
    const nested = new Session(this, streamPipe(via.mux, st), { outgoing: true, relayed: true, label: 'relay' })
    await nested.ready
    nested.rtc = new Rtc(nested, true)
    const pipe = await nested.rtc.opened
    const s = new Session(this, pipe, { outgoing: true, relayed: false, label: 'webrtc' })
    this.addSession(s)
    const data = await s.connectData()
    nested.close()
    this.onConnect(s, data)
    return s
  }
}

window.PXP = { Node, Mux }
})()
