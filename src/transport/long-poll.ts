import { randomBytes } from 'node:crypto'
import type { Connection } from '../core/connection.js'
import { Disconnects, type Disconnect } from '../disconnect.js'
import { HeraldError } from '../errors.js'
import type { Core } from '../core/core.js'
import { makeImmortal } from '../http/immortal.js'
import { sendError, setHeaders, type HttpResponse } from '../http/respond.js'
import { requestUrl, type Router } from '../http/router.js'
import type { Cors } from '../http/cors.js'
import type { Deadline, Deadlines, Lane } from './deadlines.js'
import { jsonlFraming, splitLines } from '../framing/ndjson.js'
import { bodyIsEmpty, readBody, type HttpRequest } from '../http/body.js'
import { infoFor, wireRequest } from './stream-wire.js'
import type { Wire, WireInfo } from '../core/wire.js'

export interface LongPollOptions {
  path: string
  /** How long a poll is held when there is nothing to send, ms. */
  pollIntervalMs: number
  /** How long a held poll keeps collecting after its first message, ms. */
  pollFlushIntervalMs: number
  pollMaxRequestSize: number
  /** How long a session may go unpolled before it is closed, ms. */
  pollKeepaliveTimeoutMs: number
}

/** AnyCable's long-polling header; Node lower-cases incoming names. */
const POLL_ID = 'x-anycable-poll-id'
const CONTENT_TYPE = 'application/x-ndjson; charset=utf-8'
const EMPTY = Buffer.alloc(0)

/** A poll request being held open, with what it has collected so far. */
interface HeldPoll {
  readonly session: LongPollWire
  res: HttpResponse
  frames: Buffer[]
  /** When to answer once something arrived: the flush interval, or at once (0) for a poll that sent commands. */
  flushLane: Lane
  hold: Deadline | undefined
  flush: Deadline | undefined
  /** CORS headers for the answer, when they were not set on `res` already (empty polls). */
  cors: Headers | undefined
}

type Headers = Readonly<Record<string, string>>
const NO_LINES: readonly string[] = []

const kHeld = Symbol('herald.heldPoll')
type HeldResponse = HttpResponse & { [kHeld]?: HeldPoll }

// Shared callbacks that reach their poll through an argument or a tag, not a closure (and
// esbuild's __name call) per poll: bench churn long-poll, with the other per-request savings.
function onHeldClose(this: HeldResponse): void {
  const held = this[kHeld]
  if (held) held.session.abandoned(held)
}

/** The hold or flush deadline of a poll: answer it if it is still the session's held poll. */
function answerHeld(held: HeldPoll): void {
  if (held.session.held === held) held.session.answer(200)
}

function keepaliveExpired(session: LongPollWire): void {
  session.expire()
}

/**
 * One long-poll session. Between polls, `write` returns false: the Outbox keeps queuing and counts
 * it against the same `outboxBytes` budget as any transport, and frames already handed over wait
 * here (counted in `bufferedBytes`). A poll takes them, then `drained()` lets the Outbox flush into it.
 */
class LongPollWire implements Wire {
  conn!: Connection
  held: HeldPoll | undefined
  private pending: Buffer[] = []
  /** Bytes waiting here, pending or collected by the held poll: read on every Outbox.push, so kept, not summed. */
  private waitingBytes = 0
  private keepalive: Deadline | undefined
  closed = false

  constructor(
    readonly info: WireInfo,
    readonly id: string,
    private readonly transport: LongPollTransport,
  ) {}

  get bufferedBytes(): number {
    return this.waitingBytes
  }

  write(frames: Buffer[]): boolean {
    if (this.closed) return true
    const held = this.held
    if (!held) {
      for (const f of frames) if (f.length > 0) { this.pending.push(f); this.waitingBytes += f.length }
      return false
    }
    let got = false
    for (const f of frames) if (f.length > 0) { held.frames.push(f); this.waitingBytes += f.length; got = true }
    if (got) this.scheduleFlush(held, held.flushLane)
    return true
  }

  close(reason: Disconnect): void {
    if (this.closed) return
    // Too slow: the Outbox sent nothing final and what waits here is dropped; say why, though.
    if (reason === Disconnects.slow) {
      this.pending = []
      this.waitingBytes = 0
      if (this.held) this.held.frames = []
      ;(this.held ? this.held.frames : this.pending).push(Buffer.from(reason.reply.json + '\n'))
    }
    this.closed = true
    this.transport.forget(this)
    if (this.held) this.answer(reason.httpStatus)
    this.pending = []
    this.waitingBytes = 0
    this.transport.deadlines.cancel(this.keepalive)
    this.keepalive = undefined
  }

  /** Holds `res` as the session's poll; a poll already held is answered empty and hands over what it collected. */
  attach(res: HttpResponse, immediate: boolean, cors: Headers | undefined): void {
    const t = this.transport
    const previous = this.held
    if (previous) {
      // At most one poll per session: the older one answers empty now, so nothing goes out twice
      // or into a response the client has already given up on (the LP client aborts it to send).
      const collected = previous.frames
      previous.frames = []
      this.answer(200)
      this.pending = collected.concat(this.pending)
    }
    // After answering the older poll, which starts the keepalive clock: this one stops it.
    t.deadlines.cancel(this.keepalive)
    this.keepalive = undefined
    // The pending frames become the held poll's: still waiting here, so waitingBytes is unchanged.
    const frames = this.pending
    this.pending = []
    const held: HeldPoll = {
      session: this, res, frames, flushLane: immediate ? t.flushNow : t.flushLater, hold: undefined, flush: undefined, cors,
    }
    held.hold = t.holdLane.add(answerHeld, held)
    ;(res as HeldResponse)[kHeld] = held
    res.on('close', onHeldClose)
    this.held = held
    if (frames.length > 0) this.scheduleFlush(held, t.flushNow)
    this.conn.heard()
    this.conn.drained()
  }

  /** The held poll's client went away before its answer: what it collected waits for the next poll. */
  abandoned(held: HeldPoll): void {
    if (this.held !== held) return
    this.held = undefined
    this.release(held)
    this.pending = held.frames.concat(this.pending)
    if (!this.closed) this.armKeepalive()
  }

  /** Answers the held poll with everything it collected. */
  answer(status: number): void {
    const held = this.held
    if (!held) return
    // The client is gone but its 'close' has not been handled yet: keep what it collected.
    if (held.res.destroyed && !this.closed) return this.abandoned(held)
    this.held = undefined
    this.release(held)
    const frames = held.frames
    // One frame (the common churn answer) is sent as it is: Buffer.concat would copy it.
    const body = frames.length === 0 ? EMPTY : frames.length === 1 ? frames[0] : Buffer.concat(frames)
    held.frames = []
    this.waitingBytes -= body.length
    this.transport.respond(held.res, status, body, this.id, held.cors)
    if (!this.closed) this.armKeepalive()
  }

  armKeepalive(): void {
    if (this.held || this.keepalive) return
    this.keepalive = this.transport.keepaliveLane.add(keepaliveExpired, this)
  }

  /** Not polled within the keepalive timeout. */
  expire(): void {
    this.keepalive = undefined
    this.transport.core.diagnostics.notice('info', 'long-poll session not polled in time', { sid: this.conn.sid })
    this.conn.disconnect(Disconnects.sessionExpired)
  }

  /** A request of this session that will not be held (refused) still counts as the client being alive. */
  touch(): void {
    if (this.held || this.closed) return
    this.transport.deadlines.cancel(this.keepalive)
    this.keepalive = undefined
    this.armKeepalive()
  }

  private scheduleFlush(held: HeldPoll, lane: Lane): void {
    if (held.flush) return
    held.flush = lane.add(answerHeld, held)
  }

  private release(held: HeldPoll): void {
    const deadlines = this.transport.deadlines
    deadlines.cancel(held.hold)
    deadlines.cancel(held.flush)
    held.hold = held.flush = undefined
    // The 'close' listener stays: untagged, it does nothing, and a removeListener per poll costs more.
    ;(held.res as HeldResponse)[kHeld] = undefined
  }
}

/**
 * AnyCable's session long polling at `--poll-path` (docs/protocol.md): the first POST opens a
 * session like a WebSocket upgrade and gets `X-Anycable-Poll-ID`; later POSTs carry it, may carry
 * JSON Lines commands, and are held until messages arrive (then batched for the flush interval)
 * or the poll interval ends. Sessions not polled within the keepalive timeout are closed; their
 * next poll gets 401 with a `session_expired` line.
 */
export class LongPollTransport {
  private readonly sessions = new Map<string, LongPollWire>()
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
  }

  /** Open sessions (for tests and metrics). */
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

  forget(session: LongPollWire): void {
    if (this.sessions.get(session.id) === session) {
      this.sessions.delete(session.id)
    }
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

  private handle(req: HttpRequest, res: HttpResponse, url: URL | undefined): void | Promise<void> {
    const cors = this.cors.headers(req)
    const raw = req.headers[POLL_ID]
    const pollId = Array.isArray(raw) ? raw[0] : raw
    if (pollId && bodyIsEmpty(req)) {
      // Most polls carry no body: nothing to await, and the CORS headers go into the answer's
      // writeHead (bench churn long-poll). Should anything throw, its error answer carries them as before.
      try {
        this.emptyPoll(pollId, req, res, cors)
      } catch (err) {
        setHeaders(res, cors)
        throw err
      }
      return
    }
    setHeaders(res, cors)
    if (pollId) return this.poll(pollId, req, res)
    return this.connect(req, res, url ?? requestUrl(req))
  }

  /** The first request: authenticate, open a session, run its commands, hold it as the first poll. */
  private async connect(req: HttpRequest, res: HttpResponse, url: URL): Promise<void> {
    const request = wireRequest(req, url)
    const denied = this.core.authenticate(request)
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
    const session = new LongPollWire(infoFor('long-poll', req, jsonlFraming, true), id, this)
    this.sessions.set(id, session)
    session.conn = this.core.accept(session, request, true)
    makeImmortal(req)
    this.run(session, lines, res, true, undefined)
  }

  /** A later poll without a body: `poll` without reading one. */
  private emptyPoll(pollId: string, req: HttpRequest, res: HttpResponse, cors: Headers): void {
    const session = this.sessions.get(pollId)
    if (!session) return this.unknownSession(req, res, cors)
    if (session.closed) return this.closedSession(res, cors)
    makeImmortal(req)
    this.run(session, NO_LINES, res, false, cors)
  }

  private unknownSession(req: HttpRequest, res: HttpResponse, cors: Headers | undefined): void {
    req.resume()
    this.core.diagnostics.inputReject('HERALD_ERR_SESSION_EXPIRED', 'poll for an unknown long-poll session', { remote: req.socket?.remoteAddress })
    this.respond(res, 401, Buffer.from(Disconnects.sessionExpired.reply.json + '\n'), undefined, cors)
  }

  private closedSession(res: HttpResponse, cors: Headers | undefined): void {
    this.core.diagnostics.inputReject('HERALD_ERR_SESSION_EXPIRED', 'poll for a closed long-poll session', {})
    this.respond(res, 401, Buffer.from(Disconnects.sessionExpired.reply.json + '\n'), undefined, cors)
  }

  /** A later poll: commands first, then hold it until there is something to say. */
  private async poll(pollId: string, req: HttpRequest, res: HttpResponse): Promise<void> {
    const session = this.sessions.get(pollId)
    if (!session) return this.unknownSession(req, res, undefined)
    // The keepalive clock keeps running while the body is read: a poll whose body never completes
    // must not keep its session alive (attach stops the clock once the poll is actually held).
    let lines: string[]
    try {
      lines = splitLines((await readBody(req, this.options.pollMaxRequestSize)).toString('utf8'))
    } catch (err) {
      // A bad request does not end the session: it keeps its queue and its keepalive clock restarts.
      session.touch()
      res.setHeader(POLL_ID, pollId)
      if (HeraldError.is(err)) this.core.diagnostics.inputReject(err.code, err.message, { sid: session.conn.sid, transport: 'long-poll' })
      sendError(res, err)
      return
    }
    if (session.closed) return this.closedSession(res, undefined)
    makeImmortal(req)
    this.run(session, lines, res, lines.length > 0, undefined)
  }

  private run(session: LongPollWire, lines: readonly string[], res: HttpResponse, immediate: boolean, cors: Headers | undefined): void {
    if (res.writableEnded || res.destroyed) {
      // The client left while its body was read; commands still apply, the queue waits.
      for (const line of lines) session.conn.receive(line)
      if (!session.closed) session.armKeepalive()
      return
    }
    session.attach(res, immediate, cors)
    for (const line of lines) {
      if (session.closed) break
      session.conn.receive(line)
    }
  }
}
