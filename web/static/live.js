// The live view of a pex node or swarm: a graph of its peers
// (cytoscape.js), a table of them and a log, fed by /live/events.
// With ?report=1 in the URL, each render is also written to the console
// as "LIVE-STATE {json}" (what a headless browser in a test reads).
'use strict'

const report = new URLSearchParams(location.search).get('report') === '1'
// Node colours by how a peer was learned; edge colours by PEX network.
const sourceColour = { self: '#24323f', connect: '#2b8a3e', manual: '#2b8a3e', incoming: '#845ef7', tracker: '#e8590c', dht: '#1c7ed6', pex: '#f08c00', state: '#868e96', introduction: '#0ca678', relay: '#d6336c' }
const netColour = { ut_pex: '#1c7ed6', azmp: '#e8590c', link: '#adb5bd' }
const maxLog = 200

const cy = cytoscape({
  container: document.getElementById('graph'),
  style: [
    { selector: 'node', style: { 'background-color': 'data(colour)', label: 'data(label)', 'font-size': 8, width: 14, height: 14 } },
    { selector: 'node[kind = "self"]', style: { width: 22, height: 22, 'font-weight': 'bold' } },
    { selector: 'node[kind = "other"]', style: { opacity: 0.5 } },
    { selector: 'edge', style: { width: 1, 'line-color': 'data(colour)', 'target-arrow-color': 'data(colour)', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', 'arrow-scale': 0.6 } },
    { selector: 'edge[net = "link"]', style: { 'target-arrow-shape': 'none', 'line-style': 'dashed' } }
  ],
  layout: { name: 'grid' }
})

let logCount = 0
let lastKey = ''

function colourOf (source) { return sourceColour[source] || '#495057' }

function render (s) {
  document.getElementById('title').textContent = s.title || ('pex ' + s.kind)
  document.getElementById('self').textContent = s.self ? s.self.id : ''
  const stats = s.stats || {}
  document.getElementById('stats').textContent = Object.keys(stats).filter(k => !k.includes(' ')).map(k => k.replaceAll('_', ' ') + ' ' + stats[k]).join(' · ')
  const peers = s.peers || []
  // The graph: this node, its peers (edges "link"), the peers only named
  // to it, and who named whom.
  const want = new Map()
  const self = s.self ? s.self.id : 'self'
  want.set('n:' + self, { group: 'nodes', data: { id: 'n:' + self, label: s.kind === 'bt' ? 'this swarm' : self, colour: colourOf('self'), kind: 'self' } })
  for (const p of peers) {
    want.set('n:' + p.id, { group: 'nodes', data: { id: 'n:' + p.id, label: p.label || p.id, colour: colourOf(p.source || p.transport), kind: 'peer' } })
    const e = 'l:' + p.id
    want.set(e, { group: 'edges', data: { id: e, source: 'n:' + (p.via || self), target: 'n:' + p.id, colour: netColour.link, net: 'link' } })
  }
  for (const o of s.others || []) {
    if (!want.has('n:' + o.id)) want.set('n:' + o.id, { group: 'nodes', data: { id: 'n:' + o.id, label: o.id, colour: colourOf(o.source), kind: 'other' } })
  }
  for (const e of s.edges || []) {
    const id = 'e:' + e.from + '>' + e.to
    if (!want.has('n:' + e.from) || !want.has('n:' + e.to)) continue
    want.set(id, { group: 'edges', data: { id, source: 'n:' + e.from, target: 'n:' + e.to, colour: netColour[e.net] || '#495057', net: e.net } })
  }
  let changed = false
  cy.batch(() => {
    cy.elements().forEach(el => { if (!want.has(el.id())) { el.remove(); changed = true } })
    const add = []
    for (const [id, el] of want) {
      const have = cy.getElementById(id)
      if (have.empty()) { if (el.group === 'nodes') add.unshift(el); else add.push(el); changed = true } else have.data(el.data)
    }
    cy.add(add)
  })
  const key = cy.nodes().map(n => n.id()).sort().join()
  if (changed && key !== lastKey) {
    lastKey = key
    cy.layout({ name: cy.nodes().length > 300 ? 'grid' : 'cose', animate: false, randomize: false, nodeDimensionsIncludeLabels: false }).run()
  }
  // The table.
  const cols = s.kind === 'bt'
    ? [['id', 'peer'], ['client', 'client'], ['net', 'pex'], ['source', 'source'], ['outgoing', 'out'], ['remote', 'connection']]
    : [['id', 'peer'], ['transport', 'transport'], ['remote', 'remote'], ['outgoing', 'out'], ['age_s', 'age s'], ['bytes_in', 'bytes in'], ['bytes_out', 'bytes out']]
  const head = document.getElementById('peers-head')
  head.replaceChildren(...cols.map(c => { const th = document.createElement('th'); th.textContent = c[1]; return th }))
  const body = document.querySelector('#peers tbody')
  body.replaceChildren(...peers.map(p => {
    const tr = document.createElement('tr')
    tr.dataset.id = p.id
    for (const c of cols) {
      const td = document.createElement('td')
      let v = p[c[0]]
      if (c[0] === 'age_s' && typeof v === 'number') v = v.toFixed(0)
      td.textContent = v === undefined ? '' : String(v)
      tr.appendChild(td)
    }
    return tr
  }))
  const legend = document.getElementById('legend')
  if (!legend.childElementCount) {
    for (const [k, c] of Object.entries(Object.assign({}, sourceColour, { 'ut_pex edge': netColour.ut_pex, 'azmp edge': netColour.azmp }))) {
      const sp = document.createElement('span')
      sp.innerHTML = '<i class="dot"></i>'
      sp.firstChild.style.background = c
      sp.appendChild(document.createTextNode(k))
      legend.appendChild(sp)
    }
  }
  if (report) {
    console.log('LIVE-STATE ' + JSON.stringify({ peers: peers.map(p => p.id).sort(), nodes: cy.nodes().length, edges: cy.edges().length, log: logCount, rows: body.rows.length }))
  }
}

function addLog (entry) {
  const div = document.createElement('div')
  const t = entry.time ? entry.time.slice(11, 19) + ' ' : ''
  const rest = Object.keys(entry).filter(k => k !== 'time' && k !== 'event').map(k => k + '=' + (typeof entry[k] === 'string' ? entry[k] : JSON.stringify(entry[k]))).join(' ')
  div.textContent = t + (entry.event || '') + ' ' + rest
  const log = document.getElementById('log')
  log.prepend(div)
  while (log.childElementCount > maxLog) log.lastChild.remove()
  logCount++
}

function connect () {
  const es = new EventSource('live/events')
  const status = document.getElementById('status')
  es.addEventListener('open', () => { status.textContent = 'live'; status.className = 'stat' })
  es.addEventListener('snapshot', ev => render(JSON.parse(ev.data)))
  es.addEventListener('log', ev => addLog(JSON.parse(ev.data)))
  es.addEventListener('error', () => { status.textContent = 'disconnected, retrying'; status.className = 'stat down' })
}
connect()
