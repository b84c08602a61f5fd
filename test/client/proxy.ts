import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'

/**
 * A loopback HTTP/1.1 reverse proxy in front of a Herald, for the client tests: it can refuse
 * WebSocket upgrades, answer chosen paths 503, hold chosen responses back until they end (a
 * buffering proxy), and cut every connection, refusing new ones until restored (a network drop).
 */
export class TestProxy {
  /** Upgrades answered 403, as a proxy that does not pass WebSockets. */
  refuseUpgrades = false
  /** Requests whose path matches are answered 503. */
  refuse: RegExp | undefined
  /** Responses whose path matches are sent only once complete (a streaming response never is). */
  hold: RegExp | undefined
  /** Every request and upgrade passed on, as "METHOD /path". */
  readonly seen: string[] = []
  private down = false
  private readonly sockets = new Set<net.Socket>()

  private constructor(readonly server: http.Server, private readonly target: URL) {}

  static async start(target: string): Promise<TestProxy> {
    const server = http.createServer()
    const proxy = new TestProxy(server, new URL(target))
    server.on('connection', (s: net.Socket) => proxy.track(s))
    server.on('request', (req, res) => proxy.request(req, res))
    server.on('upgrade', (req, socket: net.Socket, head) => proxy.upgrade(req, socket, head))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return proxy
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`
  }

  /** Drops every open connection, both sides, and refuses new ones until `restore()`. */
  cut(): void {
    this.down = true
    for (const s of this.sockets) s.destroy()
  }

  restore(): void {
    this.down = false
  }

  async close(): Promise<void> {
    this.cut()
    this.server.close()
    await once(this.server, 'close')
  }

  private track(s: net.Socket): void {
    if (this.down) return void s.destroy()
    this.sockets.add(s)
    s.once('close', () => this.sockets.delete(s))
  }

  private request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    if (this.refuse?.test(path)) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('refused by the test proxy')
      return
    }
    this.seen.push(`${req.method} ${path}`)
    const up = http.request({
      host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers, agent: false,
    }, (answer) => {
      const headers = { ...answer.headers }
      // Hop-by-hop: Node frames the answer to the browser itself.
      delete headers['transfer-encoding']
      delete headers.connection
      delete headers['keep-alive']
      if (this.hold?.test(path)) {
        const chunks: Buffer[] = []
        answer.on('data', (c: Buffer) => chunks.push(c))
        answer.on('end', () => res.writeHead(answer.statusCode ?? 502, headers).end(Buffer.concat(chunks)))
        return
      }
      res.writeHead(answer.statusCode ?? 502, headers)
      res.flushHeaders()
      answer.pipe(res)
    })
    up.on('socket', (s) => this.track(s))
    up.on('error', () => res.destroy())
    res.on('close', () => up.destroy())
    req.pipe(up)
  }

  private upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    if (this.refuseUpgrades) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
      return
    }
    this.seen.push(`UPGRADE ${(req.url ?? '/').split('?')[0]}`)
    const up = net.connect(Number(this.target.port), this.target.hostname, () => {
      let lines = `${req.method} ${req.url} HTTP/1.1\r\n`
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`
      up.write(lines + '\r\n')
      up.write(head)
      socket.pipe(up).pipe(socket)
    })
    this.track(up)
    up.on('error', () => socket.destroy())
    socket.on('error', () => up.destroy())
    up.on('close', () => socket.destroy())
    socket.on('close', () => up.destroy())
  }
}
