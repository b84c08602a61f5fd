import type { ServerResponse } from 'node:http'
import type { Core } from '../core/core.js'
import type { StreamEnd } from '../core/subscription.js'
import { Disconnects } from '../disconnect.js'
import { HeraldError } from '../errors.js'
import { chunkedFraming } from '../framing/chunked.js'
import type { Framing } from '../framing/framing.js'
import type { HttpRequest } from '../http/body.js'
import type { Cors } from '../http/cors.js'
import { makeImmortal } from '../http/immortal.js'
import { sendError, type HttpResponse } from '../http/respond.js'
import { publicIdentifier, signedIdentifier } from '../protocol/identifier.js'
import type { HistoryRequest } from '../protocol/messages.js'
import type { TransportName } from '../core/wire.js'
import { infoFor, StreamWire, wireRequest } from './stream-wire.js'

/** What the streaming HTTP transports share. */
export interface StreamDeps {
  core: Core
  cors: Cors
}

export interface StreamSubscription {
  identifier: string
  history?: HistoryRequest
  /** The stream's last message (a job's final event): the response ends after it. */
  endsWith?: StreamEnd
}

export interface StreamOpen {
  transport: TransportName
  framing: Framing
  contentType: string
  subscriptions: StreamSubscription[]
  /** The stream already ended (a finished job): send what subscribing sends (the snapshot), then end. */
  endNow?: boolean
}

/** Headers of every long response: no caching, and no buffering by nginx (AnyCable's X-Accel-Buffering). */
const STREAM_HEADERS = { 'cache-control': 'no-cache, no-store, no-transform', 'x-accel-buffering': 'no' }

/**
 * Opens one long response as a connection of the core: CORS (403), auth (401), the session
 * limit (503), every subscription decided and caught up before the status line (a rejection
 * answers 400, a broker that cannot subscribe 503, and nothing is kept), then 200 and whatever
 * the connection queued. Used by SSE and NDJSON, and by the jobs layer for a job's stream.
 */
export async function openStream(deps: StreamDeps, req: HttpRequest, res: HttpResponse, url: URL, open: StreamOpen): Promise<void> {
  const { core } = deps
  deps.cors.apply(req, res)
  const request = wireRequest(req, url)
  await core.admit(request)
  // HTTP/1.1 answers are chunked: frames are encoded as chunks once per broadcast and written straight to the socket.
  const framing = req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 ? chunkedFraming(open.framing) : open.framing
  const wire = new StreamWire(infoFor(open.transport, req, framing), res)
  const conn = core.accept(wire, request)
  wire.bind(conn)
  for (const { identifier, history, endsWith } of open.subscriptions) {
    const outcome = await conn.subscribe(identifier, history, { endsWith })
    if (outcome.ok) continue
    // Its queued frames are dropped unsent.
    conn.closed(Disconnects.normal)
    if (outcome.unavailable) throw new HeraldError('HERALD_ERR_BROKER_UNAVAILABLE', outcome.why)
    // The connection logged and counted the rejection already: answered here, not thrown.
    sendError(res, new HeraldError('HERALD_ERR_SUBSCRIPTION_REJECTED', `${identifier}: ${outcome.why}`))
    return
  }
  if (!conn.isOpen || res.destroyed) return // the client left while its subscriptions were set up
  if (req.method === 'HEAD') {
    // Same status and headers as the GET would get, but a HEAD has no body to hold open.
    conn.closed(Disconnects.normal)
    res.writeHead(200, { 'content-type': open.contentType, ...STREAM_HEADERS })
    res.end()
    return
  }
  makeImmortal(req)
  res.writeHead(200, { 'content-type': open.contentType, ...STREAM_HEADERS })
  // The status line now, not with the first event (Http2ServerResponse has flushHeaders too; its typings lack it).
  ;(res as ServerResponse).flushHeaders()
  wire.start()
  if (open.endNow) conn.disconnect(Disconnects.complete)
}

/** `?after=<offset>&epoch=<epoch>`: a resume position for `stream`, or undefined when not given. */
export function positionParam(url: URL, stream: string | undefined): HistoryRequest | undefined {
  const after = url.searchParams.get('after')
  const epoch = url.searchParams.get('epoch')
  if (after === null && epoch === null) return undefined
  if (after === null || !/^\d{1,15}$/.test(after)) throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'after: expected a non-negative integer offset')
  if (!epoch) throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'epoch: required with after')
  if (stream === undefined) return undefined
  return { streams: { [stream]: { offset: Number(after), epoch } } }
}

/** `?history_since=<unix seconds>`. */
export function sinceParam(url: URL): number | undefined {
  const raw = url.searchParams.get('history_since')
  if (raw === null) return undefined
  const since = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(since) || since < 0) throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'history_since: expected Unix seconds')
  return since
}

/** The channel identifier a GET asks for (AnyCable's SSE query: identifier, stream or signed_stream). */
export function identifierParam(url: URL): string {
  const q = url.searchParams
  const identifier = q.get('identifier')
  if (identifier) return identifier
  const signed = q.get('signed_stream') ?? q.get('turbo_signed_stream_name')
  if (signed) return signedIdentifier(signed)
  const stream = q.get('stream')
  if (stream) return publicIdentifier(stream)
  throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'one of identifier, stream or signed_stream is required')
}
