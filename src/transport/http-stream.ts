import type { ServerResponse } from 'node:http'
import { signStream } from '../auth/signed-stream.js'
import { Disconnects } from '../disconnect.js'
import { HeraldError } from '../errors.js'
import type { Hub } from '../hub/hub.js'
import { FINAL_STATES, type JobSnapshot } from '../jobs/job.js'
import type { JobManager } from '../jobs/job-manager.js'
import { publicIdentifier, signedIdentifier } from '../protocol/identifier.js'
import type { HistoryRequest } from '../protocol/messages.js'
import { sendError, type HttpResponse } from '../server/respond.js'
import type { Router } from '../server/router.js'
import type { Cors } from './cors.js'
import { chunkedFraming } from './framing/chunked.js'
import { ndjsonFraming } from './framing/ndjson.js'
import type { HttpRequest } from './http-body.js'
import { holdOpen, infoFor, sessionRequest, StreamSession } from './http-session.js'
import type { Framing, TransportName } from './session.js'

/** What the HTTP transports share: the core, the jobs, CORS, and the streams secret for job streams. */
export interface StreamDeps {
  hub: Hub
  jobs: JobManager
  cors: Cors
  streamsSecret: string
}

export interface StreamOpen {
  transport: TransportName
  framing: Framing
  contentType: string
  subscriptions: { identifier: string; history?: HistoryRequest }[]
  /** End the response after the stream's final message (job streams). */
  endsWithStream?: boolean
  /** The stream already ended (a finished job): send what subscribing sends (the snapshot), then end. */
  endNow?: boolean
}

/** Headers of every long response: no caching, and no buffering by nginx (AnyCable's X-Accel-Buffering). */
const STREAM_HEADERS = { 'cache-control': 'no-cache, no-store, no-transform', 'x-accel-buffering': 'no' }

/**
 * Opens one long response as a session of the core: auth (401), session limit (503), every
 * subscription decided before the status line (a rejection answers 400 and nothing is kept),
 * then 200 and whatever the connection queues.
 */
export function openStream(deps: StreamDeps, req: HttpRequest, res: HttpResponse, url: URL, open: StreamOpen): void {
  const { hub } = deps
  const cors = deps.cors.headers(req)
  for (const [k, v] of Object.entries(cors)) res.setHeader(k, v)
  const request = sessionRequest(req, url)
  const denied = hub.authenticate(request)
  if (denied !== undefined) throw new HeraldError('HERALD_ERR_UNAUTHORIZED', denied)
  if (!hub.canAccept()) throw new HeraldError('HERALD_ERR_TOO_MANY_SESSIONS')
  // HTTP/1.1 answers are chunked: frames are encoded as chunks once per broadcast and written straight to the socket.
  const framing = req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 ? chunkedFraming(open.framing) : open.framing
  const session = new StreamSession(infoFor(open.transport, req, framing), res, open.endsWithStream === true)
  const conn = hub.accept(session, request)
  session.bind(conn)
  for (const { identifier, history } of open.subscriptions) {
    if (conn.subscribe(identifier, history)) continue
    // The connection logged and counted the rejection; its queued frames are dropped unsent.
    conn.closed(Disconnects.normal)
    sendError(res, new HeraldError('HERALD_ERR_SUBSCRIPTION_REJECTED', identifier))
    return
  }
  if (req.method === 'HEAD') {
    // Same status and headers as the GET would get, but a HEAD has no body to hold open.
    conn.closed(Disconnects.normal)
    res.writeHead(200, { 'content-type': open.contentType, ...STREAM_HEADERS })
    res.end()
    return
  }
  holdOpen(req)
  res.writeHead(200, { 'content-type': open.contentType, ...STREAM_HEADERS })
  // The status line now, not with the first event (Http2ServerResponse has flushHeaders too; its typings lack it).
  ;(res as ServerResponse).flushHeaders()
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

/** A job's stream, subscribed to under its signed name (knowing the job id is the capability, as for GET /jobs/:id). */
export function jobSubscription(deps: StreamDeps, id: string): { job: JobSnapshot; identifier: string; final: boolean } {
  const job = deps.jobs.get(id)
  if (!job) throw new HeraldError('HERALD_ERR_NOT_FOUND', `job ${JSON.stringify(id)}`)
  return { job, identifier: signedIdentifier(signStream(job.stream, deps.streamsSecret)), final: FINAL_STATES.has(job.state) }
}

const NDJSON = 'application/x-ndjson; charset=utf-8'

/**
 * NDJSON over one long response: `GET /stream?stream=NAME` (or `signed_stream`, `identifier`) and
 * `GET /jobs/:id/stream` (snapshot first, ends after the final event). `?after=&epoch=` resumes.
 */
export function addNdjsonRoutes(router: Router, deps: StreamDeps): void {
  router.add('OPTIONS', '/stream', (req, res) => deps.cors.preflight(req, res, 'GET, POST, OPTIONS'))
  router.add('GET', '/stream', (req, res, _params, url) => {
    const identifier = identifierParam(url)
    const verdict = deps.hub.authorizer.authorize(identifier)
    const since = sinceParam(url)
    const position = positionParam(url, verdict.ok ? verdict.stream : undefined)
    const history = position || since ? { ...position, since } : undefined
    openStream(deps, req, res, url, { transport: 'http-stream', framing: ndjsonFraming, contentType: NDJSON, subscriptions: [{ identifier, history }] })
  })
  router.add('OPTIONS', '/jobs/:id/stream', (req, res) => deps.cors.preflight(req, res, 'GET, OPTIONS'))
  router.add('GET', '/jobs/:id/stream', (req, res, { id }, url) => {
    const { job, identifier, final } = jobSubscription(deps, id)
    const history = final ? undefined : positionParam(url, job.stream)
    openStream(deps, req, res, url, {
      transport: 'http-stream', framing: ndjsonFraming, contentType: NDJSON,
      subscriptions: [{ identifier, history }], endsWithStream: true, endNow: final,
    })
  })
}
