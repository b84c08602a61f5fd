import { execFile } from 'node:child_process'
import { once } from 'node:events'
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2'
import net from 'node:net'
import { Receiver, Sender } from 'ws'

/**
 * An HTTP/2 client session; https: URLs accept the self-signed test certificate. `windowBytes`
 * sets the stream and connection flow-control windows (Node's default is 64 KiB; browsers use
 * megabytes), for a client that should keep up with a fast stream.
 */
export async function connectH2(url: string, options: { windowBytes?: number } = {}): Promise<ClientHttp2Session> {
  const window = options.windowBytes
  const session = http2.connect(url, {
    ...(url.startsWith('https:') ? { rejectUnauthorized: false } : {}),
    ...(window ? { settings: { initialWindowSize: window } } : {}),
  })
  session.on('error', () => {})
  await once(session, 'remoteSettings')
  if (window) session.setLocalWindowSize(window)
  return session
}

export interface H2Response {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** One request to completion. */
export async function h2Request(session: ClientHttp2Session, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<H2Response> {
  const stream = session.request({ ':method': init.method ?? 'GET', ':path': path, ...init.headers }, { endStream: init.body === undefined })
  if (init.body !== undefined) stream.end(init.body)
  const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders]
  stream.setEncoding('utf8')
  let body = ''
  for await (const chunk of stream) body += chunk
  return { status: Number(headers[':status']), headers, body }
}

export interface CurlResult {
  code: number
  stdout: string
  stderr: string
}

/** Debian's curl; resolves with its exit code, never rejects. */
export function curl(args: string[], timeoutMs = 10_000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * A WebSocket over one HTTP/2 stream (RFC 8441) built from node:http2 and ws's frame codec:
 * extended CONNECT, masked frames out, a client-side Receiver in.
 */
export class H2WebSocket {
  readonly messages: any[] = []
  readonly pings: Buffer[] = []
  closeCode: number | undefined
  closeReason: string | undefined
  private waiters: { test: (m: any) => boolean; resolve: (m: any) => void }[] = []
  private readonly closedPromise: Promise<void>

  private constructor(readonly stream: ClientHttp2Stream, readonly headers: IncomingHttpHeaders, private readonly answerClose: boolean) {
    const receiver = new Receiver({ isServer: false })
    receiver.on('message', (data: Buffer, isBinary: boolean) => {
      const msg = isBinary ? data : JSON.parse(data.toString())
      this.messages.push(msg)
      this.waiters = this.waiters.filter((w) => (w.test(msg) ? (w.resolve(msg), false) : true))
    })
    receiver.on('ping', (data: Buffer) => {
      this.pings.push(data)
      this.frame(0xa, data)
    })
    receiver.on('conclude', (code: number, reason: Buffer) => {
      this.closeCode = code
      this.closeReason = reason.toString()
      if (this.answerClose && !stream.writableEnded) {
        const payload = Buffer.alloc(2)
        payload.writeUInt16BE(code === 1005 ? 1000 : code)
        this.frame(0x8, payload)
        stream.end()
      }
    })
    receiver.on('error', () => stream.destroy())
    stream.on('data', (chunk: Buffer) => receiver.write(chunk))
    this.closedPromise = new Promise((resolve) => stream.once('close', () => resolve()))
  }

  /**
   * Sends the extended CONNECT; rejects with the status when it is not 200. `answerClose: false`
   * leaves the server's close frame unanswered (the test sends its own with `close`).
   */
  static async open(session: ClientHttp2Session, path: string, headers: Record<string, string> = {}, { answerClose = true } = {}): Promise<H2WebSocket> {
    const stream = session.request({
      ':method': 'CONNECT', ':protocol': 'websocket', ':path': path,
      'sec-websocket-version': '13', 'sec-websocket-protocol': 'actioncable-v1-ext-json', ...headers,
    }, { endStream: false })
    const [res] = (await once(stream, 'response')) as [IncomingHttpHeaders]
    if (Number(res[':status']) !== 200) {
      stream.close()
      throw Object.assign(new Error(`CONNECT answered ${res[':status']}`), { status: Number(res[':status']) })
    }
    return new H2WebSocket(stream, res, answerClose)
  }

  frame(opcode: number, data: Buffer, { mask = true } = {}): void {
    if (this.stream.writableEnded || this.stream.destroyed) return
    this.stream.write(Buffer.concat(Sender.frame(data, { fin: true, opcode, mask, readOnly: false, rsv1: false })))
  }

  send(msg: unknown): void {
    this.frame(0x1, Buffer.from(typeof msg === 'string' ? msg : JSON.stringify(msg)))
  }

  waitFor(test: (m: any) => boolean, timeoutMs = 5000): Promise<any> {
    const found = this.messages.find(test)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(this.messages.slice(-5))}`)), timeoutMs)
      this.waiters.push({ test, resolve: (m) => { clearTimeout(timer); resolve(m) } })
    })
  }

  waitForType(type: string, timeoutMs?: number): Promise<any> {
    return this.waitFor((m) => m?.type === type, timeoutMs)
  }

  /** Sends a close frame and waits for the stream to end. */
  async close(code = 1000): Promise<void> {
    const payload = Buffer.alloc(2)
    payload.writeUInt16BE(code)
    this.frame(0x8, payload)
    await this.closed()
  }

  async closed(timeoutMs = 5000): Promise<{ code: number | undefined; reason: string | undefined }> {
    await Promise.race([this.closedPromise, new Promise((_, rej) => setTimeout(() => rej(new Error('stream not closed in time')), timeoutMs))])
    return { code: this.closeCode, reason: this.closeReason }
  }
}

/**
 * A TCP relay between a client and a server; `freeze()` stops forwarding both ways without
 * closing anything, as a peer that vanished from the network would.
 */
export class FreezableProxy {
  readonly server: net.Server
  private frozen = false
  private readonly sockets = new Set<net.Socket>()
  port = 0

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy() })
      }
      client.on('data', (d) => { if (!this.frozen) upstream.write(d) })
      upstream.on('data', (d) => { if (!this.frozen) client.write(d) })
    })
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this.port
  }

  freeze(): void {
    this.frozen = true
  }

  close(): void {
    for (const s of this.sockets) s.destroy()
    this.server.close()
  }
}

/** A streaming HTTP/2 request whose body is collected as it arrives (SSE, NDJSON, held polls). */
export class H2Reader {
  status = 0
  headers: IncomingHttpHeaders = {}
  body = ''
  ended = false
  rstCode = 0
  private readonly closedPromise: Promise<void>

  constructor(readonly stream: ClientHttp2Stream) {
    stream.setEncoding('utf8')
    stream.on('response', (h: IncomingHttpHeaders) => {
      this.headers = h
      this.status = Number(h[':status'])
    })
    stream.on('data', (c: string) => (this.body += c))
    stream.on('error', () => {})
    this.closedPromise = new Promise((resolve) => stream.once('close', () => {
      this.ended = true
      this.rstCode = stream.rstCode ?? 0
      resolve()
    }))
  }

  static open(session: ClientHttp2Session, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): H2Reader {
    const stream = session.request({ ':method': init.method ?? 'GET', ':path': path, ...init.headers }, { endStream: init.body === undefined })
    if (init.body !== undefined) stream.end(init.body)
    return new H2Reader(stream)
  }

  /** Resolves once the body so far satisfies `test`. */
  async waitFor(test: (body: string) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!test(this.body)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; body: ${JSON.stringify(this.body.slice(-300))}`)
      if (this.ended) throw new Error(`stream ended (rstCode ${this.rstCode}) before ${what}; body: ${JSON.stringify(this.body.slice(-300))}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  async closed(timeoutMs = 5000): Promise<void> {
    await Promise.race([this.closedPromise, new Promise((_, rej) => setTimeout(() => rej(new Error('stream not closed in time')), timeoutMs))])
  }
}
