import { HistoryUnavailable } from '../broker/broker.js'
import type { Core } from '../core/core.js'
import type { PreparedBroadcast } from '../framing/prepared-broadcast.js'
import type { HttpRequest } from '../http/body.js'
import type { Cors } from '../http/cors.js'
import { makeImmortal } from '../http/immortal.js'
import type { HttpResponse } from '../http/respond.js'
import type { Subscriber } from '../hub/subscriber.js'
import type { StreamMessage, StreamPosition } from '../protocol/messages.js'
import type { Deadline, Deadlines } from './deadlines.js'
import { wireRequest } from './stream-wire.js'

/** What one poll asks: events of `stream` after `after` (in `epoch`, or the stream's current one). */
export interface CursorRequest {
  readonly stream: string
  readonly after: number
  readonly epoch: string | undefined
  readonly timeoutMs: number
  /** The stream has ended (a finished job): answer at once, even with nothing new. */
  readonly ended: boolean
}

/** How the layer that owns the stream (jobs) words each answer. */
export interface CursorAnswers {
  /** Events after the cursor (200); `top` is the next cursor. */
  events(res: HttpResponse, messages: StreamMessage[]): void | Promise<void>
  /** Nothing new, and nothing more will come (the stream ended). */
  ended(res: HttpResponse, top: StreamPosition): void | Promise<void>
  /** The cursor cannot be served (history lost, another epoch, ahead of the stream): 410. */
  gone(res: HttpResponse, why: string, top: StreamPosition | undefined): void | Promise<void>
  /** Nothing within the timeout: 204, ask again. */
  timeout(res: HttpResponse): void
}

/**
 * One held poll: a subscriber of its stream with a cursor. The first message after the cursor
 * answers it; a jump in offsets is filled from history first. Costs one hub subscription and one
 * deadline, no connection.
 */
class HeldCursorPoll implements Subscriber {
  readonly identifier = ''
  dataHead: string | undefined = undefined
  deadline: Deadline | undefined
  private done = false
  private readonly got: StreamMessage[] = []
  private readonly onClose = (): void => this.finish()

  constructor(
    private readonly polls: CursorPolls,
    private readonly res: HttpResponse,
    private readonly answers: CursorAnswers,
    readonly stream: string,
    private cursor: StreamPosition,
  ) {
    res.on('close', this.onClose)
  }

  deliver(prepared: PreparedBroadcast): void {
    const m = prepared.message
    if (this.done || m.epoch !== this.cursor.epoch || m.offset <= this.cursor.offset) return
    if (m.offset === this.cursor.offset + 1 + this.got.length) {
      // The rest of this turn's broadcasts join the same answer.
      if (this.got.push(m) === 1) queueMicrotask(() => this.answerGot())
    } else void this.fromHistory()
  }

  fail(err: unknown): void {
    this.polls.core.diagnostics.requestFail(`cursor poll of ${this.stream}`, err)
    this.timedOut()
  }

  checkTop(top: StreamPosition): void {
    if (!this.done && (top.epoch !== this.cursor.epoch || top.offset > this.cursor.offset)) void this.fromHistory()
  }

  /** Answers with whatever history holds after the cursor (a gap, a broker reconnect). */
  async fromHistory(): Promise<void> {
    try {
      const { messages } = await this.polls.core.hub.history(this.stream, { after: this.cursor })
      if (!this.done && messages.length > 0) this.answer(() => this.answers.events(this.res, messages))
    } catch (err) {
      if (this.done) return
      const why = err instanceof HistoryUnavailable ? err.message : `history failed: ${(err as Error)?.message ?? err}`
      this.answer(() => this.answers.gone(this.res, why, undefined))
    }
  }

  get isDone(): boolean {
    return this.done
  }

  /** The cursor once the stream's epoch is known (a poll that named none takes the current one). */
  startAt(cursor: StreamPosition): void {
    this.cursor = cursor
  }

  timedOut(): void {
    this.answer(() => this.answers.timeout(this.res))
  }

  private answerGot(): void {
    if (!this.done) this.answer(() => this.answers.events(this.res, this.got.slice()))
  }

  private answer(send: () => void | Promise<void>): void {
    if (this.done) return
    this.finish()
    this.polls.reply(this.res, send)
  }

  /** Ends the hold: unsubscribed, deadline cancelled, no longer counted. Idempotent. */
  finish(): void {
    if (this.done) return
    this.done = true
    this.res.off('close', this.onClose)
    this.polls.release(this)
  }
}

/**
 * A poll for one stream with a cursor (the seed's "wait until something new or timeout, then ask
 * again"): 200 as soon as there are events after the cursor, the end of a stream that has ended,
 * 410 when the cursor cannot be served, 204 at the timeout. Generic: the jobs layer serves
 * `/jobs/:id/poll` with it and words the answers.
 */
export class CursorPolls {
  private readonly holding = new Set<HeldCursorPoll>()

  constructor(
    readonly core: Core,
    private readonly cors: Cors,
    private readonly deadlines: Deadlines,
  ) {}

  /** Polls being held right now. */
  get heldCount(): number {
    return this.holding.size
  }

  /** Shutdown: every held poll is answered "ask again" (204), as its timeout would. */
  shutdown(): void {
    for (const poll of [...this.holding]) poll.timedOut()
  }

  async poll(req: HttpRequest, res: HttpResponse, url: URL, request: CursorRequest, answers: CursorAnswers): Promise<void> {
    this.cors.apply(req, res)
    await this.core.admit(wireRequest(req, url))
    const poll = new HeldCursorPoll(this, res, answers, request.stream, { offset: request.after, epoch: request.epoch ?? '' })
    this.holding.add(poll)
    this.core.clients.heldRequests++
    // Subscribed before history is read, so nothing published in between is missed.
    const ready = this.core.hub.subscribe(poll)
    try {
      if (ready !== undefined) await ready
      const { top } = await this.core.hub.history(request.stream, { limit: 0 })
      // A message that arrived meanwhile may have answered the poll already.
      if (poll.isDone) return
      const cursor = { offset: request.after, epoch: request.epoch ?? top.epoch }
      if (top.offset === 0 && (request.after > 0 || request.ended)) {
        // No history at all: before the first event only a cursor of 0 makes sense, and for an
        // ended stream whose history expired, waiting would only ever give 204.
        const why = request.ended ? 'the stream has ended and its events are no longer kept' : `offset ${request.after} is unknown: the stream has no events`
        return this.finishWith(poll, res, () => answers.gone(res, why, top))
      }
      poll.startAt(cursor)
      const { messages } = await this.core.hub.history(request.stream, { after: cursor })
      if (poll.isDone) return
      if (messages.length > 0) return this.finishWith(poll, res, () => answers.events(res, messages))
      if (request.ended) return this.finishWith(poll, res, () => answers.ended(res, top))
      if (res.destroyed || res.writableEnded) return poll.finish()
      poll.deadline = this.deadlines.add(request.timeoutMs, onPollTimeout, poll)
      makeImmortal(req)
    } catch (err) {
      if (poll.isDone) return
      if (!(err instanceof HistoryUnavailable)) {
        poll.finish()
        throw err
      }
      return this.finishWith(poll, res, () => answers.gone(res, err.message, undefined))
    }
  }

  /** @internal A held poll is done with its hold. */
  release(poll: HeldCursorPoll): void {
    this.deadlines.cancel(poll.deadline)
    poll.deadline = undefined
    this.core.hub.unsubscribe(poll)
    this.holding.delete(poll)
    this.core.clients.heldRequests--
  }

  /** @internal Sends an answer; a failing one (a snapshot store that is down) becomes a 500 with a log line. */
  reply(res: HttpResponse, send: () => void | Promise<void>): void {
    Promise.resolve().then(send).catch((err: unknown) => {
      this.core.diagnostics.requestFail('cursor poll answer', err)
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end('{"error":{"code":"HERALD_ERR_INTERNAL","message":"internal error"}}')
      } else res.destroy()
    })
  }

  private async finishWith(poll: HeldCursorPoll, res: HttpResponse, send: () => void | Promise<void>): Promise<void> {
    poll.finish()
    if (!res.destroyed) await send()
  }
}

function onPollTimeout(poll: HeldCursorPoll): void {
  poll.timedOut()
}
