import http from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { HeraldError } from '../errors.js'
import type { Hub } from '../hub/hub.js'
import type { HttpRequest } from '../transport/http-body.js'
import type { WebSocketTransport } from '../transport/websocket.js'
import { sendError, type HttpResponse } from './respond.js'
import { requestUrl, type Router } from './router.js'

/**
 * Node's HTTP/1.1 timeouts, in milliseconds, set on purpose (node-platform-notes §3): held
 * responses (SSE, long polls) are never cut because `requestTimeout` only covers receiving the
 * request and `timeout` (socket inactivity) stays 0; clients that dawdle over their headers or
 * body, or sit idle between requests, still are.
 */
export interface Http1Timeouts {
  readonly headersTimeout: number
  readonly requestTimeout: number
  readonly keepAliveTimeout: number
  /** Always 0: a non-zero socket inactivity timeout would cut a silent held response. */
  readonly timeout: 0
}

/** The timeouts from the configuration's seconds. */
export function http1Timeouts(c: { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number }): Http1Timeouts {
  return Object.freeze({
    headersTimeout: c.headersTimeout * 1000,
    requestTimeout: c.requestTimeout * 1000,
    keepAliveTimeout: c.keepAliveTimeout * 1000,
    timeout: 0,
  })
}

export interface RequestHandlerDeps {
  hub: Hub
  router: Router
  ws: WebSocketTransport
  timeouts: Http1Timeouts
}

/**
 * How often Node checks headersTimeout and requestTimeout (30 s by default, which would let a
 * short requestTimeout run up to 30 s late): a quarter of the shorter one, within 50 ms..30 s.
 */
function checkingInterval(t: Http1Timeouts): number {
  const shortest = Math.min(...[t.headersTimeout, t.requestTimeout].filter((ms) => ms > 0), 120_000)
  return Math.min(30_000, Math.max(50, Math.floor(shortest / 4)))
}

/**
 * Origin-form paths the URL parser returns unchanged (no dot segments, percent-encoding, empty
 * segments or characters it would escape): routed as they are, without `new URL` per request.
 */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-]+)+\/?$|^\/$/

/** Routes one request; unknown paths 404, thrown HeraldErrors become their status. */
export function handleRequest(deps: RequestHandlerDeps, req: HttpRequest, res: HttpResponse): void | Promise<void> {
  const target = req.url ?? '/'
  const q = target.indexOf('?')
  const path = q < 0 ? target : target.slice(0, q)
  let pathname = path
  let url: URL | undefined
  // A plain path is its own URL pathname; routes that want the URL still get one (router.ts).
  // Skipping the parse saved 3.6% of the server's time in bench churn long-poll.
  if (!PLAIN_PATH.test(path)) {
    try {
      url = requestUrl(req)
    } catch {
      sendError(res, new HeraldError('HERALD_ERR_BAD_REQUEST', 'unparseable request target'))
      return
    }
    pathname = url.pathname
  }
  let out: boolean | Promise<void>
  try {
    out = deps.router.dispatch(req, res, pathname, url)
    if (out === false) throw new HeraldError('HERALD_ERR_NOT_FOUND', `${req.method} ${pathname}`)
  } catch (err) {
    failed(deps, req, res, pathname, err)
    return
  }
  // Only an async handler costs a promise and a microtask here (most polls answer synchronously).
  if (out !== true) return out.then(undefined, (err: unknown) => failed(deps, req, res, pathname, err))
}

function failed(deps: RequestHandlerDeps, req: HttpRequest, res: HttpResponse, pathname: string, err: unknown): void {
  if (HeraldError.is(err)) {
    if (err.status >= 500) {
      // Counted like every other refusal (a 503 over --max-sessions, say), as docs/errors.md says.
      deps.hub.metrics.errors.inc({ code: err.code })
      deps.hub.log.err({ err, path: pathname }, 'request failed')
    } else deps.hub.rejectInput(err.code, err.message, { method: req.method, path: pathname })
  } else {
    deps.hub.metrics.errors.inc({ code: 'HERALD_ERR_INTERNAL' })
    deps.hub.log.err({ err, path: pathname }, 'request failed')
  }
  sendError(res, err)
}

export function createHttp1Server(deps: RequestHandlerDeps): http.Server {
  const server = http.createServer({ connectionsCheckingInterval: checkingInterval(deps.timeouts) }, (req, res) => void handleRequest(deps, req, res))
  addHttp1Handlers(server, deps)
  return server
}

/**
 * The HTTP/1.1 side of a server: timeouts, WebSocket upgrades and client errors. Also used on
 * the TLS listener's allowHTTP1 fallback, whose keepAliveTimeout Node leaves undefined (idle
 * keep-alive sockets would never close, node-platform-notes §3).
 */
export function addHttp1Handlers(server: http.Server | Http2SecureServer, deps: RequestHandlerDeps): void {
  Object.assign(server, deps.timeouts)
  // Read when the server starts listening; the TLS server ignores it as a constructor option.
  ;(server as http.Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = checkingInterval(deps.timeouts)
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://herald.invalid')
    } catch {
      // A throw here would be uncaught (an event listener) and end the process.
      deps.hub.rejectInput('HERALD_ERR_BAD_REQUEST', 'unparseable upgrade request target', { remote: req.socket.remoteAddress })
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const upgrade = (req.headers.upgrade ?? '').toLowerCase()
    if (upgrade.split(/\s*,\s*/).includes('h2c') && req.method === 'GET') {
      // `Upgrade: h2c` (curl --http2 on http://) is deprecated by RFC 9113 §3.1 and may be
      // ignored: answered over HTTP/1.1 on this socket, which then closes. h2c with prior
      // knowledge is served on the same port (server/listeners.ts).
      const res = new http.ServerResponse(req)
      res.shouldKeepAlive = false
      res.assignSocket(socket as Socket)
      res.once('finish', () => socket.end())
      void handleRequest(deps, req, res)
      return
    }
    if (!deps.ws.matches(url) || upgrade !== 'websocket') {
      deps.hub.rejectInput('HERALD_ERR_NOT_FOUND', 'upgrade to an unknown path', { path: url.pathname })
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    deps.ws.handleUpgrade(req, socket, head, url)
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    deps.hub.metrics.errors.inc({ code: 'HERALD_ERR_BAD_REQUEST' })
    deps.hub.log.debug({ err: err.message, code: err.code }, 'http client error')
    if (socket.writable && err.code !== 'ECONNRESET') {
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
    } else socket.destroy()
  })
}

export function listen(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    // A backlog above Node's 511 so connection bursts are not refused (node-platform-notes §4).
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject)
      resolve(server.address() as AddressInfo)
    })
  })
}
