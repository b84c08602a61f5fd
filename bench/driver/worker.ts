/**
 * One load-driver process (forked by bench/run.ts): opens connections of one client kind,
 * counts and times every message, and reports to the parent over IPC. Several run at once,
 * because one process reads only ~50-68k deliveries/s and holds < 20,000 sockets.
 */
import net from 'node:net'
import { type ClientSpec, Conn, HIST_BUCKETS, nowMicros, Tally } from './conn.js'
import { PROTOCOLS, setOpenedHook } from './clients.js'
import { openH2 } from './h2.js'

export type ToWorker =
  | { op: 'connect'; spec: ClientSpec; streams: string[]; localAddresses: string[]; concurrency: number }
  | { op: 'reset' }
  | { op: 'collect'; published: Record<string, number> }
  | { op: 'close' }

export type FromWorker =
  | { op: 'connected'; ok: number; failed: number; error?: string }
  | { op: 'progress'; delivered: number; requests: number }
  | { op: 'result'; result: WorkerResult }

export interface WorkerResult {
  delivered: number
  unique: number
  dup: number
  reorder: number
  lost: number
  requests: number
  /** Connections that ended or failed during the run. */
  ended: number
  maxLatencyUs: number
  /** Sparse histogram: [bucket, count, bucket, count, …]. */
  hist: number[]
  /** State of the first connection that missed messages, to tell a server stall from a parser one. */
  firstLoss?: string
}

const tally = new Tally()
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024)
const conns: Conn[] = []
const send = (m: FromWorker): void => {
  process.send!(m)
}

let batch = { want: 0, ok: 0, failed: 0, error: undefined as string | undefined }
let startNext: () => void = () => {}

setOpenedHook(settled)

/** One more connection counted as opened (or failed): report when the batch is complete. */
function settled(conn: Conn, ok: boolean): void {
  if (conn.opened) return
  conn.opened = true
  if (ok) batch.ok++
  else batch.failed++
  startNext()
  if (batch.ok + batch.failed === batch.want) send({ op: 'connected', ok: batch.ok, failed: batch.failed, error: batch.error })
}

function failed(conn: Conn, err: Error): void {
  batch.error ??= err.message
  conn.ended = true
  settled(conn, false)
}

function openTcp(conn: Conn, spec: ClientSpec, localAddress: string): void {
  const proto = PROTOCOLS[spec.proto]
  // onread: reads land in one shared buffer and reach the parser without a 'data' event or a
  // Buffer per read, which roughly halves the driver's cost per delivery (parsers copy what they keep).
  const socket = net.connect({
    host: '127.0.0.1', port: spec.ports ? spec.ports[conn.index % spec.ports.length] : spec.port, localAddress,
    onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => {
      proto.data(conn, spec, (buf as Buffer).subarray(0, n), nowMicros())
      return true
    } },
  })
  conn.socket = socket
  socket.setNoDelay(true)
  socket.on('connect', () => {
    proto.start(conn, spec)
    // A long poll's first answer waits for a message: the TCP connection is "open" enough.
    if (spec.proto === 'long-poll') settled(conn, true)
  })
  socket.on('error', (err) => failed(conn, err))
  socket.on('close', () => {
    conn.ended = true
  })
}

const h2Hooks = { connected: (conn: Conn) => settled(conn, true), failed }

function connect(spec: ClientSpec, streams: string[], locals: string[], concurrency: number): void {
  batch = { want: streams.length, ok: 0, failed: 0, error: undefined }
  if (streams.length === 0) {
    send({ op: 'connected', ok: 0, failed: 0 })
    return
  }
  let next = 0
  const open = () => {
    if (next >= streams.length) return
    const i = next++
    const conn = new Conn(conns.length, streams[i], tally)
    conns.push(conn)
    if (spec.h2) openH2(conn, spec, locals[i], h2Hooks)
    else openTcp(conn, spec, locals[i])
  }
  startNext = open
  for (let k = 0; k < concurrency; k++) open()
}

let lastDelivered = -1
let lastRequests = -1
setInterval(() => {
  if (tally.delivered === lastDelivered && tally.requests === lastRequests) return
  lastDelivered = tally.delivered
  lastRequests = tally.requests
  send({ op: 'progress', delivered: tally.delivered, requests: tally.requests })
}, 20)

function collect(published: Record<string, number>): WorkerResult {
  const r: WorkerResult = { delivered: tally.delivered, unique: 0, dup: 0, reorder: 0, lost: 0, requests: tally.requests, ended: 0, maxLatencyUs: tally.maxLatencyUs, hist: [] }
  for (const c of conns) {
    r.unique += c.unique
    r.dup += c.dup
    r.reorder += c.reorder
    const lost = Math.max(0, (published[c.stream] ?? 0) - c.unique - c.reorder)
    r.lost += lost
    if (lost > 0 && r.firstLoss === undefined) {
      r.firstLoss = JSON.stringify({ conn: c.index, lastSeq: c.lastSeq, unique: c.unique, phase: c.phase, chunked: c.chunked, chunkLeft: c.chunkLeft,
        pending: c.pending?.toString('latin1').slice(0, 80), tail: c.tail?.length, tailHead: c.tail?.toString('latin1').slice(0, 80), ended: c.ended, bytesRead: c.socket.bytesRead })
    }
    if (c.ended) r.ended++
  }
  const h = tally.hist
  for (let b = 0; b < HIST_BUCKETS; b++) if (h[b] !== 0) r.hist.push(b, h[b])
  return r
}

process.on('message', (m: ToWorker) => {
  switch (m.op) {
    case 'connect':
      return connect(m.spec, m.streams, m.localAddresses, m.concurrency)
    case 'reset':
      tally.reset()
      for (const c of conns) c.resetSeq()
      lastDelivered = lastRequests = -1
      return
    case 'collect':
      return send({ op: 'result', result: collect(m.published) })
    case 'close':
      for (const c of conns) c.socket.destroy()
      process.exit(0)
  }
})
process.on('disconnect', () => process.exit(0))
