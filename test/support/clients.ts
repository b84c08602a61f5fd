import { once } from 'node:events'
import http from 'node:http'
import type { IncomingHttpHeaders } from 'node:http2'
import { WebSocket } from 'ws'
import { connectH2, H2WebSocket } from './h2.js'
import { within } from './util.js'

/**
 * The same request or WebSocket over HTTP/1.1 or HTTP/2 (h2c with prior knowledge; RFC 8441 for
 * WebSockets), so one table of cases runs over both.
 */
export type HttpVersion = '1.1' | '2'
export const HTTP_VERSIONS: readonly HttpVersion[] = ['1.1', '2']

export interface ExchangeRequest {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: string
}

export interface Exchange {
  status: number
  headers: IncomingHttpHeaders
  /** The whole body; for a 200 streaming response only what came with the headers (nothing). */
  body: string
  /** The body parsed as JSON, when it is JSON. */
  json: any
}

/**
 * One request. `streaming`: a 200 answer is a long response (SSE, NDJSON), so it is dropped as
 * soon as its headers arrive; any other answer is read to its end.
 */
export async function exchange(version: HttpVersion, base: string, req: ExchangeRequest, streaming = false): Promise<Exchange> {
  const { status, headers, body } = version === '1.1' ? await exchange1(base, req, streaming) : await exchange2(base, req, streaming)
  let json: unknown
  try { json = body ? JSON.parse(body) : undefined } catch { /* not JSON */ }
  return { status, headers, body, json }
}

function exchange1(base: string, req: ExchangeRequest, streaming: boolean): Promise<Omit<Exchange, 'json'>> {
  return within(new Promise((resolve, reject) => {
    const r = http.request(`${base}${req.path}`, { method: req.method ?? 'GET', headers: req.headers, agent: false }, (res) => {
      const status = res.statusCode ?? 0
      if (streaming && status === 200) {
        res.destroy()
        return resolve({ status, headers: res.headers, body: '' })
      }
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status, headers: res.headers, body }))
      res.on('error', reject)
    })
    r.on('error', reject)
    r.end(req.body)
  }), 10_000, `${req.method ?? 'GET'} ${req.path} over HTTP/1.1`)
}

async function exchange2(base: string, req: ExchangeRequest, streaming: boolean): Promise<Omit<Exchange, 'json'>> {
  const session = await connectH2(base)
  try {
    const stream = session.request({ ':method': req.method ?? 'GET', ':path': req.path, ...req.headers }, { endStream: req.body === undefined })
    stream.on('error', () => {})
    if (req.body !== undefined) stream.end(req.body)
    const [headers] = (await within(once(stream, 'response'), 10_000, `${req.path} over HTTP/2`)) as [IncomingHttpHeaders]
    const status = Number(headers[':status'])
    if (streaming && status === 200) return { status, headers, body: '' }
    stream.setEncoding('utf8')
    let body = ''
    for await (const chunk of stream) body += chunk
    return { status, headers, body }
  } finally {
    session.destroy()
  }
}

/** A WebSocket client with the same calls over HTTP/1.1 (ws) and HTTP/2 (RFC 8441). */
export interface TestSocket {
  readonly version: HttpVersion
  readonly messages: any[]
  waitFor(test: (m: any) => boolean, timeoutMs?: number): Promise<any>
  waitForType(type: string, timeoutMs?: number): Promise<any>
  /** A text frame: `msg` as it is when a string, else as JSON. */
  send(msg: unknown): void
  /** One frame of raw bytes, text or binary (for frames a well-behaved client would not send). */
  sendRaw(kind: 'text' | 'binary', data: Buffer): void
  /** Resolves when the connection has ended: the close frame's code and reason, both undefined when none came. */
  closed(timeoutMs?: number): Promise<{ code: number | undefined; reason: string | undefined }>
  close(): void
  /** Drops the connection without a close frame, as a peer that vanished would. */
  drop(): void
}

export interface SocketOptions {
  path?: string
  protocol?: string
  headers?: Record<string, string>
}

/** Opens a WebSocket at `base` (http://…); rejects with an error carrying `status` when the server refuses it. */
export async function openSocket(version: HttpVersion, base: string, options: SocketOptions = {}): Promise<TestSocket> {
  const path = options.path ?? '/cable'
  const protocol = options.protocol ?? 'actioncable-v1-ext-json'
  if (version === '2') {
    const session = await connectH2(base)
    try {
      const ws = await H2WebSocket.open(session, path, { 'sec-websocket-protocol': protocol, ...options.headers })
      return new H2Socket(ws, () => session.close())
    } catch (err) {
      session.destroy()
      throw err
    }
  }
  return H1Socket.open(`${base.replace(/^http/, 'ws')}${path}`, protocol, options.headers ?? {})
}

/** The HTTP status of a refused WebSocket, or a failure when it opened. */
export async function refusedStatus(opening: Promise<TestSocket>): Promise<number> {
  const outcome = await opening.then((s) => { s.close(); return undefined }, (err) => err.status as number)
  if (outcome === undefined) throw new Error('the WebSocket opened; expected a refusal')
  return outcome
}

class H1Socket implements TestSocket {
  readonly version = '1.1' as const
  readonly messages: any[] = []
  private waiters: { test: (m: any) => boolean; resolve: (m: any) => void }[] = []
  private readonly ended: Promise<{ code: number | undefined; reason: string | undefined }>

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => this.received(isBinary ? data : JSON.parse(data.toString())))
    // 1006: ws's code for "no close frame came".
    this.ended = new Promise((resolve) => ws.once('close', (code, reason) =>
      resolve(code === 1006 ? { code: undefined, reason: undefined } : { code, reason: reason.toString() })))
  }

  static open(url: string, protocol: string, headers: Record<string, string>): Promise<H1Socket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocol, { headers })
      const socket = new H1Socket(ws)
      ws.on('unexpected-response', (req, res) => {
        reject(Object.assign(new Error(`upgrade answered ${res.statusCode}`), { status: res.statusCode }))
        res.resume()
        req.destroy()
      })
      ws.on('error', () => { /* a refusal or a drop; the close event tells the rest */ })
      ws.once('open', () => resolve(socket))
    })
  }

  private received(msg: any): void {
    this.messages.push(msg)
    this.waiters = this.waiters.filter((w) => (w.test(msg) ? (w.resolve(msg), false) : true))
  }

  waitFor(test: (m: any) => boolean, timeoutMs = 5000): Promise<any> {
    const found = this.messages.find(test)
    if (found) return Promise.resolve(found)
    return within(new Promise((resolve) => this.waiters.push({ test, resolve })), timeoutMs, `a message; got ${JSON.stringify(this.messages.slice(-5))}`)
  }

  waitForType(type: string, timeoutMs?: number): Promise<any> {
    return this.waitFor((m) => m?.type === type, timeoutMs)
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg))
  }

  sendRaw(kind: 'text' | 'binary', data: Buffer): void {
    this.ws.send(data, { binary: kind === 'binary' })
  }

  closed(timeoutMs = 5000) {
    return within(this.ended, timeoutMs, 'the WebSocket to close')
  }

  close(): void {
    this.ws.close()
  }

  drop(): void {
    this.ws.terminate()
  }
}

class H2Socket implements TestSocket {
  readonly version = '2' as const

  private readonly ended: Promise<void>

  constructor(private readonly ws: H2WebSocket, done: () => void) {
    this.ended = new Promise((resolve) => {
      if (ws.stream.closed) resolve()
      else ws.stream.once('close', () => resolve())
    })
    void this.ended.then(done)
  }

  get messages(): any[] {
    return this.ws.messages
  }

  waitFor(test: (m: any) => boolean, timeoutMs?: number): Promise<any> {
    return this.ws.waitFor(test, timeoutMs)
  }

  waitForType(type: string, timeoutMs?: number): Promise<any> {
    return this.ws.waitForType(type, timeoutMs)
  }

  send(msg: unknown): void {
    this.ws.send(msg)
  }

  sendRaw(kind: 'text' | 'binary', data: Buffer): void {
    this.ws.frame(kind === 'text' ? 0x1 : 0x2, data)
  }

  async closed(timeoutMs = 5000) {
    await within(this.ended, timeoutMs, 'the WebSocket\'s stream to close')
    return { code: this.ws.closeCode, reason: this.ws.closeReason }
  }

  close(): void {
    const payload = Buffer.alloc(2)
    payload.writeUInt16BE(1000)
    this.ws.frame(0x8, payload)
  }

  drop(): void {
    this.ws.stream.destroy()
  }
}
