import { randomBytes } from 'node:crypto'
import type { Core } from '../core/core.js'
import { Disconnects, type Disconnect } from '../disconnect.js'
import { HeraldError } from '../errors.js'
import { jsonlFraming, splitLines } from '../framing/ndjson.js'
import { bodyIsEmpty, readBody, type HttpRequest } from '../http/body.js'
import type { Cors } from '../http/cors.js'
import { makeImmortal } from '../http/immortal.js'
import { sendError, setHeaders, type HttpResponse } from '../http/respond.js'
import { requestUrl, type Router } from '../http/router.js'
import type { Deadlines, Lane } from './deadlines.js'
import { SharedLongPollSessions, type SharedSession } from './long-poll-sessions.js'
import { LongPollWire, type Headers, type LongPollOwner } from './long-poll-wire.js'
import { infoFor, wireRequest } from './stream-wire.js'

export interface LongPollOptions {
  path: string
  /** How long a poll is held when there is nothing to send, ms. */
  pollIntervalMs: number
  /** How long a held poll keeps collecting after its first message, ms. */
  pollFlushIntervalMs: number
  pollMaxRequestSize: number
  /** How long a session may go unpolled before it is closed, ms. */
  pollKeepaliveTimeoutMs: number
  /** Keep sessions in the broker's store so any node can answer any poll (a network broker). */
  shared: boolean
}

/** AnyCable's long-polling header; Node lower-cases incoming names. */
const POLL_ID = 'x-anycable-poll-id'
const CONTENT_TYPE = 'application/x-ndjson; charset=utf-8'
const NO_LINES: readonly string[] = []

/** How many ended sessions are remembered at most (each a few dozen bytes). */
const ENDED_MAX = 10_000

/**
 * AnyCable's session long polling at `--poll-path` (docs/protocol.md): the first POST opens a
 * session like a WebSocket upgrade and gets `X-Anycable-Poll-ID`; later POSTs carry it, may carry
 * JSON Lines commands, and are held until messages arrive (then batched for the flush interval)
 * or the poll interval ends. A session not polled within the keepalive timeout is closed; its
 * next poll gets 401 with a `session_expired` line (a session ended for another reason, `too_slow`
 * say, tells that reason instead). With a network broker, any node answers any poll
 * (long-poll-sessions.ts).
 */
export class LongPollTransport implements LongPollOwner {
  private readonly sessions = new Map<string, LongPollWire>()
  /**
   * Sessions that ended here lately, by poll id, in the order they ended: what their next poll is
   * told, for a keepalive's time. Pruned as it grows and read lazily: no timer per entry.
   */
  private readonly ended = new Map<string, { reason: Disconnect; at: number }>()
  private readonly shared: SharedLongPollSessions | undefined
  // Every hold, keepalive and flush lies a fixed time ahead: lanes instead of the heap (bench churn long-poll).
  readonly holdLane: Lane
  readonly keepaliveLane: Lane
  readonly flushNow: Lane
  readonly flushLater: Lane

  constructor(
    readonly core: Core,
    readonly deadlines: Deadlines,
    private readonly cors: Cors,
    readonly options: LongPollOptions,
  ) {
    this.holdLane = deadlines.lane(options.pollIntervalMs)
    this.keepaliveLane = deadlines.lane(options.pollKeepaliveTimeoutMs)
    this.flushNow = deadlines.lane(0)
    this.flushLater = deadlines.lane(options.pollFlushIntervalMs)
    if (options.shared) {
      this.shared = new SharedLongPollSessions(core, { keepaliveMs: options.pollKeepaliveTimeoutMs, holdMs: options.pollIntervalMs }, (id) => this.moved(id))
    }
  }

  /** Open sessions (for stats and metrics). */
  get size(): number {
    return this.sessions.size
  }

  /** Polls being held right now. */
  get heldCount(): number {
    let n = 0
    for (const s of this.sessions.values()) if (s.held) n++
    return n
  }

  register(router: Router): void {
    router.addPathOnly('OPTIONS', this.options.path, (req, res) => this.cors.preflight(req, res, 'POST, OPTIONS'))
    router.addPathOnly('POST', this.options.path, (req, res, _params, url) => this.handle(req, res, url))
  }

  // ---- LongPollOwner ----------------------------------------------------------------------------

  forget(wire: LongPollWire, reason: Disconnect): void {
    if (this.sessions.get(wire.id) !== wire) return
    this.sessions.delete(wire.id)
    this.remember(wire.id, reason)
    this.shared?.saveClosed(wire.id, wire.conn.sid, reason).catch((err: unknown) => this.core.diagnostics.brokerError('keep a long-poll session\'s end', err))
  }

  answered(wire: LongPollWire): void {
    this.shared?.save(wire).catch((err: unknown) => this.core.diagnostics.brokerError('keep a long-poll session', err))
  }

  expired(wire: LongPollWire): void {
    this.core.diagnostics.notice('info', 'long-poll session not polled in time', { sid: wire.conn.sid })
  }

  /** `cors`: headers not yet set on `res`, written first as if they had been (the same order on the wire). */
  respond(res: HttpResponse, status: number, body: Buffer, pollId: string | undefined, cors?: Headers): void {
    if (res.writableEnded) return
    // One writeHead with everything: a setHeader before it sends Node down its merging path (bench churn long-poll).
    const headers: Record<string, string> = cors === undefined
      ? { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': String(body.length) }
      : { ...cors, 'content-type': CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': String(body.length) }
    if (pollId) headers[POLL_ID] = pollId
    res.writeHead(status, headers)
    res.end(body)
  }

  private remember(pollId: string, reason: Disconnect): void {
    const now = Date.now()
    for (const [id, { at }] of this.ended) {
      if (this.ended.size < ENDED_MAX && now - at < this.options.pollKeepaliveTimeoutMs) break
      this.ended.delete(id)
    }
    this.ended.set(pollId, { reason, at: now })
  }

  private endedReason(pollId: string): Disconnect | undefined {
    const ended = this.ended.get(pollId)
    return ended && Date.now() - ended.at < this.options.pollKeepaliveTimeoutMs ? ended.reason : undefined
  }

  /** The session went on at another node: this node's copy goes, quietly. */
  private moved(pollId: string): void {
    const wire = this.sessions.get(pollId)
    if (!wire) return
    this.sessions.delete(pollId)
    wire.drop()
  }

  // ---- requests ---------------------------------------------------------------------------------

  private handle(req: HttpRequest, res: HttpResponse, url: URL | undefined): void | Promise<void> {
    const cors = this.cors.headers(req)
    const raw = req.headers[POLL_ID]
    const pollId = Array.isArray(raw) ? raw[0] : raw
    if (pollId && bodyIsEmpty(req)) {
      // Most polls carry no body: nothing to await, and the CORS headers go into the answer's
      // writeHead (bench churn long-poll). Should anything throw, its error answer carries them as before.
      try {
        return this.emptyPoll(pollId, req, res, cors)
      } catch (err) {
        setHeaders(res, cors)
        throw err
      }
    }
    setHeaders(res, cors)
    if (pollId) return this.poll(pollId, req, res)
    return this.connect(req, res, url ?? requestUrl(req))
  }

  /** The first request: authenticate, open a session, run its commands, hold it as the first poll. */
  private async connect(req: HttpRequest, res: HttpResponse, url: URL): Promise<void> {
    const request = wireRequest(req, url)
    this.core.checkConnectionRate(request)
    const verdict = this.core.authenticate(request)
    const denied = verdict instanceof Promise ? await verdict : verdict
    if (denied !== undefined) {
      req.resume()
      this.core.diagnostics.inputReject('HERALD_ERR_UNAUTHORIZED', denied, { transport: 'long-poll' })
      this.respond(res, 401, Buffer.from(Disconnects.unauthorized.reply.json + '\n'), undefined)
      return
    }
    if (!this.core.canAccept()) throw new HeraldError('HERALD_ERR_TOO_MANY_SESSIONS')
    const lines = splitLines((await readBody(req, this.options.pollMaxRequestSize)).toString('utf8'))
    // At least 128 random bits: the id is the session's only credential from here on.
    const id = randomBytes(18).toString('base64url')
    const wire = new LongPollWire(infoFor('long-poll', req, jsonlFraming, true), id, this)
    this.sessions.set(id, wire)
    wire.conn = this.core.accept(wire, request)
    makeImmortal(req)
    this.run(wire, lines, res, true, undefined)
  }

  /** A later poll without a body: `poll` without reading one, synchronous when the session is here. */
  private emptyPoll(pollId: string, req: HttpRequest, res: HttpResponse, cors: Headers): void | Promise<void> {
    const wire = this.sessions.get(pollId)
    if (!wire) return this.elsewhere(pollId, req, res, NO_LINES, cors)
    if (wire.closed) return this.endedSession(res, Disconnects.sessionExpired, cors)
    makeImmortal(req)
    this.run(wire, NO_LINES, res, false, cors)
  }

  /** A later poll: commands first, then hold it until there is something to say. */
  private async poll(pollId: string, req: HttpRequest, res: HttpResponse): Promise<void> {
    const wire = this.sessions.get(pollId)
    // The keepalive clock keeps running while the body is read: a poll whose body never completes
    // must not keep its session alive (attach stops the clock once the poll is actually held).
    let lines: string[]
    try {
      lines = splitLines((await readBody(req, this.options.pollMaxRequestSize)).toString('utf8'))
    } catch (err) {
      // A bad request does not end the session: it keeps its queue and its keepalive clock restarts.
      wire?.touch()
      res.setHeader(POLL_ID, pollId)
      if (HeraldError.is(err)) this.core.diagnostics.inputReject(err.code, err.message, { sid: wire?.conn.sid, transport: 'long-poll' })
      sendError(res, err)
      return
    }
    const here = this.sessions.get(pollId)
    if (!here) return this.elsewhere(pollId, req, res, lines, undefined)
    if (here.closed) return this.endedSession(res, Disconnects.sessionExpired, undefined)
    makeImmortal(req)
    this.run(here, lines, res, lines.length > 0, undefined)
  }

  /**
   * A poll for a session this node does not have: one that ended here (its reason), one another
   * node kept (taken over here), or an unknown one (401 session_expired).
   */
  private elsewhere(pollId: string, req: HttpRequest, res: HttpResponse, lines: readonly string[], cors: Headers | undefined): void | Promise<void> {
    const reason = this.endedReason(pollId)
    if (reason !== undefined) return this.endedSession(res, reason, cors)
    if (!this.shared) return this.unknownSession(req, res, cors)
    return this.takeOver(pollId, req, res, lines, cors)
  }

  private async takeOver(pollId: string, req: HttpRequest, res: HttpResponse, lines: readonly string[], cors: Headers | undefined): Promise<void> {
    let session: SharedSession | undefined
    try {
      session = await this.shared!.load(pollId)
    } catch (err) {
      throw new HeraldError('HERALD_ERR_BROKER_UNAVAILABLE', `long-poll session ${pollId}: ${(err as Error)?.message ?? err}`)
    }
    if (!session) return this.unknownSession(req, res, cors)
    if (session.closed !== undefined) return this.endedSession(res, reasonNamed(session.closed), cors)
    // Another poll of the session may have brought it here while this one read the store.
    let wire = this.sessions.get(pollId)
    if (!wire) {
      if (!this.core.canAccept()) throw new HeraldError('HERALD_ERR_TOO_MANY_SESSIONS')
      wire = new LongPollWire(infoFor('long-poll', req, jsonlFraming, true), pollId, this)
      this.sessions.set(pollId, wire)
      wire.conn = this.core.adopt(wire, wireRequest(req, requestUrl(req)), session.sid, session.channels)
      if (session.node !== this.core.nodeId) {
        this.shared!.moved(pollId).catch((err: unknown) => this.core.diagnostics.brokerError('move a long-poll session', err))
      }
    }
    makeImmortal(req)
    this.run(wire, lines, res, lines.length > 0, cors)
  }

  private unknownSession(req: HttpRequest, res: HttpResponse, cors: Headers | undefined): void {
    req.resume()
    this.core.diagnostics.inputReject('HERALD_ERR_SESSION_EXPIRED', 'poll for an unknown long-poll session', { remote: req.socket?.remoteAddress })
    this.respond(res, 401, Buffer.from(Disconnects.sessionExpired.reply.json + '\n'), undefined, cors)
  }

  /**
   * A poll for a session that has ended, told the real reason: 401 `session_expired` (or
   * `unauthorized`), else 200 with the disconnect line, so a client cut `too_slow` reconnects
   * instead of giving up for good.
   */
  private endedSession(res: HttpResponse, reason: Disconnect, cors: Headers | undefined): void {
    this.core.diagnostics.inputReject('HERALD_ERR_SESSION_EXPIRED', `poll for a long-poll session that ended: ${reason.reason}`, {})
    this.respond(res, reason.httpStatus, Buffer.from(reason.reply.json + '\n'), undefined, cors)
  }

  private run(wire: LongPollWire, lines: readonly string[], res: HttpResponse, immediate: boolean, cors: Headers | undefined): void {
    if (res.writableEnded || res.destroyed) {
      // The client left while its body was read; commands still apply, the queue waits.
      for (const line of lines) wire.conn.receive(line)
      if (!wire.closed) wire.armKeepalive()
      return
    }
    wire.attach(res, immediate, cors)
    for (const line of lines) {
      if (wire.closed) break
      wire.conn.receive(line)
    }
  }
}

/** The Disconnect a stored reason names (session_expired for one unknown here). */
function reasonNamed(reason: string): Disconnect {
  for (const d of Object.values(Disconnects)) if (d.reason === reason) return d
  return Disconnects.sessionExpired
}
