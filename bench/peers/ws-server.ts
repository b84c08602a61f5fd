/**
 * The raw `ws` peer: the practical ceiling for a Node WebSocket server. Subscribers connect to
 * /ws/<channel>; POST /pub/<channel> (raw body) or POST /pub (JSON array of {stream, data})
 * publishes. Each message is framed once (ws's Sender.frame) and each socket gets one write
 * per event-loop turn (docs/node-notes.md §2: frame once + batch ≈ 8× plain ws.send).
 * With a second port argument it also serves RFC 8441 WebSockets over h2c there, the same way
 * (frames written to the CONNECT streams): the ceiling for Herald's WebSocket over HTTP/2.
 */
import http from 'node:http'
import http2 from 'node:http2'
import type { Duplex } from 'node:stream'
import { Sender, WebSocket, WebSocketServer } from 'ws'

const port = Number(process.argv[2] ?? 0)
const h2Port = Number(process.argv[3] ?? 0)
/**
 * `deflate` (bench compression): ws's own per-socket permessage-deflate, as a ws application
 * gets it: ws.send per socket (each compresses with its own context), on every message
 * (threshold 0; ws's default skips messages under 1 KiB).
 */
const deflate = process.argv[4] === 'deflate'
const sockets = new Map<Duplex, WebSocket>()
const channels = new Map<string, Set<Duplex>>()
let subscribers = 0

const FRAME = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false } as const
const kQueue = Symbol('queue')
type Queued = Duplex & { [kQueue]?: Buffer[] }
let dirty: Queued[] = []

function flush(): void {
  const list = dirty
  dirty = []
  for (const s of list) {
    const q = s[kQueue]!
    s[kQueue] = undefined
    if (!s.destroyed) s.write(q.length === 1 ? q[0] : Buffer.concat(q))
  }
}

function broadcast(channel: string, data: string): void {
  const set = channels.get(channel)
  if (!set) return
  if (deflate) {
    for (const s of set) sockets.get(s)?.send(data)
    return
  }
  const list = Sender.frame(Buffer.from(data), FRAME) as Buffer[]
  const frame = list.length === 1 ? list[0] : Buffer.concat(list)
  for (const s of set as Set<Queued>) {
    const q = s[kQueue]
    if (q) q.push(frame)
    else {
      s[kQueue] = [frame]
      if (dirty.push(s) === 1) setImmediate(flush)
    }
  }
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: deflate ? { threshold: 0 } : false, clientTracking: false })
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const url = req.url ?? '/'
    if (req.method === 'GET' && url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ subscribers }))
    }
    if (req.method === 'POST' && url === '/pub') {
      for (const p of JSON.parse(Buffer.concat(chunks).toString()) as { stream: string; data: string }[]) broadcast(p.stream, p.data)
      res.writeHead(201, { 'content-length': '0' })
      return res.end()
    }
    if (req.method === 'POST' && url.startsWith('/pub/')) {
      broadcast(decodeURIComponent(url.slice(5)), Buffer.concat(chunks).toString())
      res.writeHead(201, { 'content-length': '0' })
      return res.end()
    }
    res.writeHead(404, { 'content-length': '0' })
    res.end()
  })
})
function subscribe(channel: string, wire: Duplex, ws: WebSocket): void {
  let set = channels.get(channel)
  if (!set) channels.set(channel, (set = new Set()))
  set.add(wire)
  if (deflate) sockets.set(wire, ws)
  subscribers++
  ws.on('close', () => {
    set.delete(wire)
    sockets.delete(wire)
    subscribers--
    if (set.size === 0) channels.delete(channel)
  })
}

server.on('upgrade', (req, socket, head) => {
  const url = req.url ?? '/'
  if (!url.startsWith('/ws/')) return socket.destroy()
  wss.handleUpgrade(req, socket, head, (ws: WebSocket) => subscribe(decodeURIComponent(url.slice(4)), socket, ws))
})
server.listen({ host: '127.0.0.1', port, backlog: 4096 }, () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`))

if (h2Port) {
  const h2 = http2.createServer({ settings: { enableConnectProtocol: true } })
  const Ctor = WebSocket as unknown as new (address: null, protocols: undefined, options: Record<string, unknown>) => WebSocket
  h2.on('stream', (stream, headers) => {
    const path = headers[':path'] ?? '/'
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket' || !path.startsWith('/ws/')) {
      stream.respond({ ':status': 404 }, { endStream: true })
      return
    }
    stream.respond({ ':status': 200 })
    // As ws's own server would build it (its options give autoPong and closeTimeout).
    const ws = new Ctor(null, undefined, wss.options as Record<string, unknown>)
    ws.setSocket(stream, Buffer.alloc(0), { allowSynchronousEvents: true, maxPayload: 100 * 1024 * 1024, skipUTF8Validation: false })
    subscribe(decodeURIComponent(path.slice(4)), stream, ws)
  })
  h2.listen({ host: '127.0.0.1', port: h2Port, backlog: 4096 })
}

// Exit on SIGTERM (the bench's stop) rather than die of it, so BENCH_CPU_PROF's --cpu-prof can write its profile.
process.on('SIGTERM', () => process.exit(0))
