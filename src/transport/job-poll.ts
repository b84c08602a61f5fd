import type { Connection } from '../core/connection.js'
import { Disconnects, type Disconnect } from '../disconnect.js'
import { HeraldError } from '../errors.js'
import { sendJson, type HttpResponse } from '../http/respond.js'
import type { Router } from '../http/router.js'
import type { Deadline, Deadlines } from './deadlines.js'
import type { HttpRequest } from '../http/body.js'
import { jobSubscription, type StreamDeps } from './http-stream.js'
import { holdOpen, infoFor, wireRequest } from './http-session.js'
import type { Framing, Wire, WireInfo } from '../core/wire.js'

export interface JobPollOptions {
  /** Seconds a poll is held by default. */
  timeout: number
  /** Largest `?timeout=` accepted (seconds). */
  maxTimeout: number
}

const EMPTY = Buffer.alloc(0)

/**
 * Each positioned event as one small JSON record the session collects; of the protocol's replies
 * only `reject_history` matters here (→ 410). Welcome, confirmations, pings and the snapshot
 * transmission are left out: a poll answers with events after its cursor and nothing else.
 */
const jobPollFraming: Framing = {
  id: 6,
  name: 'job-poll',
  reply: (json) => (json.startsWith('{"type":"reject_history"') ? Buffer.from(json) : EMPTY),
  data: (_json, _identifier, m) => Buffer.from(`{"offset":${m.offset},"epoch":${JSON.stringify(m.epoch)},"event":${m.data}}`),
}

type Collected = { offset: number; epoch: string; event: unknown }

/**
 * One held `GET /jobs/:id/poll` as a session of the core: the connection subscribes with the
 * cursor as its history position, and the first batch it writes (backlog or live) answers the
 * request. Its only timer is one entry in the shared Deadlines.
 */
class JobPollWire implements Wire {
  conn!: Connection
  deadline: Deadline | undefined
  private answered = false
  private readonly events: Collected[] = []
  private gone = false
  private readonly onClose = (): void => this.finish('abandoned')

  constructor(
    readonly info: WireInfo,
    private readonly res: HttpResponse,
    private readonly transport: JobPollTransport,
    private readonly jobId: string,
    private readonly stream: string,
  ) {
    res.on('close', this.onClose)
  }

  readonly bufferedBytes = 0

  write(frames: Buffer[]): boolean {
    if (this.answered) return true
    for (const f of frames) {
      if (f.length === 0) continue
      const record = JSON.parse(f.toString('utf8'))
      if (record.type === 'reject_history') this.gone = true
      else this.events.push(record)
    }
    // The whole backlog arrives in one write (one Outbox flush per turn), so answer after this batch.
    if (this.gone || this.events.length > 0) queueMicrotask(() => this.finish(this.gone ? 'gone' : 'events'))
    return true
  }

  close(_reason: Disconnect): void {
    // Shutdown (or any end the core decides): "ask again" is the right answer for a poll.
    this.finish('timeout', false)
  }

  finish(how: 'events' | 'timeout' | 'gone' | 'abandoned', closeConn = true): void {
    if (this.answered) return
    this.answered = true
    this.transport.deadlines.cancel(this.deadline)
    this.deadline = undefined
    this.res.off('close', this.onClose)
    if (closeConn) this.conn.closed(Disconnects.normal)
    const res = this.res
    if (how === 'events') {
      const last = this.events[this.events.length - 1]
      sendJson(res, 200, { job: this.jobId, events: this.events.map((e) => e.event), after: last.offset, epoch: last.epoch })
    } else if (how === 'timeout') {
      res.writeHead(204, { 'cache-control': 'no-store' })
      res.end()
    } else if (how === 'gone') {
      void this.transport.gone(res, this.jobId, this.stream, 'the cursor is no longer in the kept history')
    }
  }
}

/**
 * `GET /jobs/:id/poll?after=<offset>&epoch=<epoch>&timeout=<s>` (seeds/progress-over-http2-question.md):
 * 200 with every event after the cursor and the next cursor as soon as there is one; 204 at the
 * timeout (ask again); 410 with the current snapshot and position when the cursor is older than
 * the kept history; 404 for an unknown job.
 */
export class JobPollTransport {
  private held = 0

  constructor(
    private readonly deps: StreamDeps,
    readonly deadlines: Deadlines,
    private readonly options: JobPollOptions,
  ) {}

  /** Polls being held right now (for tests). */
  get heldCount(): number {
    return this.held
  }

  register(router: Router): void {
    router.add('OPTIONS', '/jobs/:id/poll', (req, res) => this.deps.cors.preflight(req, res, 'GET, OPTIONS'))
    router.add('GET', '/jobs/:id/poll', (req, res, { id }, url) => this.handle(req, res, id, url))
  }

  /** 410: the client cannot resume from its cursor; here is the state to carry on from. */
  async gone(res: HttpResponse, jobId: string, stream: string, why: string): Promise<void> {
    const { hub, jobs } = this.deps
    hub.rejectInput('HERALD_ERR_HISTORY_GONE', why, { job: jobId })
    const position = await hub.broker.position(stream)
    const err = new HeraldError('HERALD_ERR_HISTORY_GONE', why)
    sendJson(res, 410, {
      error: { code: err.code, message: err.message },
      job: jobs.get(jobId) ?? null,
      after: position?.offset ?? 0,
      epoch: position?.epoch ?? null,
    })
  }

  private async handle(req: HttpRequest, res: HttpResponse, id: string, url: URL): Promise<void> {
    const { hub, cors } = this.deps
    for (const [k, v] of Object.entries(cors.headers(req))) res.setHeader(k, v)
    const { job, identifier, final } = jobSubscription(this.deps, id)
    const after = intParam(url, 'after', 0)
    const timeout = Math.min(numberParam(url, 'timeout', this.options.timeout), this.options.maxTimeout)
    const request = wireRequest(req, url)
    const denied = hub.authenticate(request)
    if (denied !== undefined) throw new HeraldError('HERALD_ERR_UNAUTHORIZED', denied)
    if (!hub.canAccept()) throw new HeraldError('HERALD_ERR_TOO_MANY_SESSIONS')
    const epoch = url.searchParams.get('epoch') || (await hub.broker.position(job.stream))?.epoch
    if (res.writableEnded || req.socket?.destroyed) return
    // No history at all: before the first event only a cursor of 0 makes sense, and for a finished
    // job whose history has expired the snapshot is all there is (waiting would only ever give 204).
    if (epoch === undefined && (after > 0 || final)) {
      await this.gone(res, id, job.stream, final ? `job ${id} has finished and its events are no longer kept` : `job ${id} has no events yet, so offset ${after} is unknown`)
      return
    }
    const session = new JobPollWire(infoFor('job-poll', req, jobPollFraming), res, this, id, job.stream)
    this.held++
    res.once('close', () => this.held--)
    session.conn = hub.accept(session, request)
    session.deadline = this.deadlines.add(timeout * 1000, () => session.finish('timeout'))
    holdOpen(req)
    // Signed by us, so it cannot be rejected; history from the cursor, or live only before any event.
    session.conn.subscribe(identifier, epoch === undefined ? undefined : { streams: { [job.stream]: { offset: after, epoch } } })
  }
}

function numberParam(url: URL, name: string, def: number): number {
  const raw = url.searchParams.get(name)
  if (raw === null) return def
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new HeraldError('HERALD_ERR_BAD_REQUEST', `${name}: expected a non-negative number`)
  return n
}

function intParam(url: URL, name: string, def: number): number {
  const n = numberParam(url, name, def)
  if (!Number.isSafeInteger(n)) throw new HeraldError('HERALD_ERR_BAD_REQUEST', `${name}: expected a non-negative integer`)
  return n
}
