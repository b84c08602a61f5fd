/**
 * The Socket.IO 4.x peer: clients connect over Engine.IO's WebSocket transport with
 * `?ch=<channel>` and join that room; POST /pub/<channel> (raw body) or POST /pub (JSON array
 * of {stream, data}) emits `m` with the payload string to the room.
 */
import http from 'node:http'
import { Server } from 'socket.io'

const port = Number(process.argv[2] ?? 0)
/** `deflate` (bench compression): ws's per-socket permessage-deflate, on every message (threshold 0; ws's default skips those under 1 KiB). */
const deflate = process.argv[4] === 'deflate'
let subscribers = 0

const server = http.createServer()
const io = new Server(server, { transports: ['websocket'], perMessageDeflate: deflate ? { threshold: 0 } : false, serveClient: false, cors: { origin: '*' } })
io.on('connection', (socket) => {
  socket.join(String(socket.handshake.query.ch ?? ''))
  subscribers++
  socket.on('disconnect', () => subscribers--)
  socket.emit('ready')
})

server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
  const url = req.url ?? '/'
  if (url.startsWith('/socket.io')) return
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    if (req.method === 'GET' && url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ subscribers }))
    }
    if (req.method === 'POST' && url === '/pub') {
      for (const p of JSON.parse(Buffer.concat(chunks).toString()) as { stream: string; data: string }[]) io.to(p.stream).emit('m', p.data)
      res.writeHead(201, { 'content-length': '0' })
      return res.end()
    }
    if (req.method === 'POST' && url.startsWith('/pub/')) {
      io.to(decodeURIComponent(url.slice(5))).emit('m', Buffer.concat(chunks).toString())
      res.writeHead(201, { 'content-length': '0' })
      return res.end()
    }
    res.writeHead(404, { 'content-length': '0' })
    res.end()
  })
})
server.listen({ host: '127.0.0.1', port, backlog: 4096 }, () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`))
