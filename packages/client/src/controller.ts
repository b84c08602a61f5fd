import { command, type Reply } from './codec.js'
import type { Options } from './options.js'
import type { Subscription } from './subscription.js'
import { ndjson, sse } from './transports/http-stream.js'
import { longPoll } from './transports/long-poll.js'
import type { EndKind, Opener, Transport, TransportName } from './transports/transport.js'
import { websocket } from './transports/websocket.js'

export type State = 'connecting' | 'connected' | 'disconnected'

/** What the controller needs from its client. */
export interface ControllerHost {
  readonly o: Options
  readonly _subs: Map<string, Subscription>
  readonly reason?: string
  _sid?: string
  _skew: number
  _url(path: string, sid?: string): string
  _deliver(m: Reply): void
  _report(state: State, transport?: TransportName, reason?: string): void
}

const OPENERS: Record<TransportName, Opener> = { ws: websocket, sse, ndjson, lp: longPoll }
/** SSE and NDJSON take no commands: they are opened with the whole set of subscriptions. */
const streaming = (name: TransportName) => name === 'sse' || name === 'ndjson'

/** One wire, being opened or in use. */
interface Live {
  /** Its index in the transport order. */
  i: number
  t?: Transport
  /** The server welcomed it. */
  ok?: boolean
  /** Identifiers this wire has not confirmed (with their history) yet. */
  wait: Set<string>
  /** SSE and NDJSON: the identifiers in its request. */
  ids?: Set<string>
  /** When it last heard anything. */
  heard: number
  timer?: any
}

/**
 * Picks the wire. `cur` carries the subscriptions; `next` is a wire being opened beside it (a
 * probe of a better transport, or an SSE/NDJSON reopen with a grown set) and replaces it once it
 * has confirmed every subscription. Both deliver meanwhile; positions drop what arrives twice.
 * A wire that cannot open gives way to the next transport; a lost one is reopened after a
 * backoff, starting from the transport that worked last.
 */
export class Controller {
  cur?: Live
  next?: Live
  /** The transport that worked last: reconnects start there. */
  private home = 0
  /** Transports tried in this round of connecting. */
  private tries = 0
  private attempt = 0
  /** Why the transports before the one in use failed, for `client.reason`. */
  private why: string[] = []
  private upMs: number
  private retryT?: any
  private upT?: any
  private reopenT?: any
  private staleT?: any
  private closed = false

  constructor(private readonly c: ControllerHost) {
    this.upMs = c.o.upgradeAfter
    const g = globalThis as any
    g.addEventListener?.('online', this.online)
    g.addEventListener?.('offline', this.offline)
  }

  /** Connects unless a wire is open, opening, or a retry is scheduled. */
  start(): void {
    if (this.cur || this.retryT || this.closed) return
    this.tries = 0
    this.why = []
    this.open(this.home)
  }

  added(sub: Subscription): void {
    if (!this.cur) return this.start()
    for (const live of [this.cur, this.next]) {
      if (live?.ok && live.t!.send) {
        live.t!.send(sub._command('subscribe'))
        live.wait.add(sub.identifier)
      }
    }
    this.sync()
  }

  removed(sub: Subscription): void {
    for (const live of [this.cur, this.next]) {
      if (live?.ok && live.t!.send) live.t!.send(command('unsubscribe', sub.identifier))
      live?.wait.delete(sub.identifier)
    }
    if (this.next) this.check(this.next)
    this.sync()
  }

  /** Ends everything; `final` (the client was closed) also stops reacting to online/offline. */
  stop(why: string, final?: boolean): void {
    for (const t of [this.retryT, this.upT, this.reopenT]) clearTimeout(t)
    clearInterval(this.staleT)
    this.retryT = this.upT = this.reopenT = this.staleT = undefined
    for (const live of [this.cur, this.next]) if (live) this.drop(live)
    this.cur = this.next = undefined
    if (final) {
      this.closed = true
      const g = globalThis as any
      g.removeEventListener?.('online', this.online)
      g.removeEventListener?.('offline', this.offline)
    }
    this.c._report('disconnected', undefined, why)
  }

  private open(i: number, candidate?: boolean): void {
    const c = this.c
    const name = c.o.transports[i]
    const subs = [...c._subs.values()]
    const live: Live = { i, wait: new Set(), heard: Date.now() }
    if (streaming(name)) {
      // Nothing to follow, so nothing to open: the next subscription starts it.
      if (!subs.length) return candidate ? undefined : c._report('disconnected')
      live.ids = new Set(subs.map((s) => s.identifier))
    }
    if (candidate) this.next = live
    else {
      this.cur = live
      c._report('connecting', name)
    }
    this.staleT ??= setInterval(this.watch, 1000)
    live.timer = setTimeout(() => this.end(live, 'refused', `${name}: no welcome in ${c.o.openTimeout} ms`), c.o.openTimeout)
    try {
      live.t = OPENERS[name]({
        o: c.o,
        // Only a reconnect restores the session; a probe opens one beside it.
        url: (path) => c._url(path, candidate ? undefined : c._sid),
        body: subs.map((s) => s._command('subscribe')).join('\n'),
        reply: (m) => this.reply(live, m),
        end: (kind, why) => this.end(live, kind, why),
      })
    } catch (err) {
      this.end(live, 'refused', `${name}: ${err}`)
    }
  }

  private reply(live: Live, m: Reply): void {
    if (live !== this.cur && live !== this.next) return
    live.heard = Date.now()
    const c = this.c
    const type = m.type
    if (type === 'welcome') {
      clearTimeout(live.timer)
      live.ok = true
      const t = live.t!
      if (t.send) {
        c._sid = m.sid
        // Restored channels only need their history from our positions; the others subscribe again.
        const restored = m.restored_ids ?? []
        for (const s of c._subs.values()) {
          t.send(s._command(restored.includes(s.identifier) ? 'history' : 'subscribe'))
          live.wait.add(s.identifier)
        }
        for (const id of restored) if (!c._subs.has(id)) t.send(command('unsubscribe', id))
      } else live.wait = new Set(live.ids)
      return live === this.cur ? this.settle(live) : this.check(live)
    }
    if (type === 'disconnect') {
      // Otherwise the wire closes next and is reopened.
      if (m.reconnect === false) this.stop(`disconnected: ${m.reason}`)
      return
    }
    if (type === 'ping') {
      c._skew = m.message - Date.now() / 1000
      return
    }
    if (type === 'confirm_history' || type === 'reject_history' || type === 'reject_subscription') {
      live.wait.delete(m.identifier!)
      this.check(live)
    }
    c._deliver(m)
  }

  /** A wire opened beside the one in use takes over once it has confirmed every subscription. */
  private check(live: Live): void {
    if (live === this.next && live.ok && !live.wait.size) this.settle(live)
  }

  private settle(live: Live): void {
    const c = this.c
    if (this.cur && this.cur !== live) this.drop(this.cur)
    this.cur = live
    this.next = undefined
    this.home = live.i
    this.attempt = this.tries = 0
    if (!live.i) {
      clearTimeout(this.upT)
      this.upT = undefined
      this.upMs = c.o.upgradeAfter
    } else if (!this.upT) this.plan()
    c._report('connected', c.o.transports[live.i], live.i ? this.why.join('; ') || c.reason : undefined)
    this.why = []
    this.sync()
  }

  /** SSE and NDJSON reopen when the set grew, and close when nothing is left to follow. */
  private sync(): void {
    const cur = this.cur
    const subs = this.c._subs
    if (!cur?.ids || !cur.ok || this.next) return
    if (!subs.size) {
      this.drop(cur)
      this.cur = undefined
      return this.c._report('disconnected')
    }
    for (const id of subs.keys()) {
      if (cur.ids.has(id)) continue
      // A short pause gathers subscriptions made together (ten jobs started at once) into one reopen.
      this.reopenT ??= setTimeout(() => {
        this.reopenT = undefined
        if (this.cur === cur && !this.next) this.open(cur.i, true)
      }, 20)
      return
    }
  }

  private end(live: Live, kind: EndKind, why: string): void {
    if (live !== this.cur && live !== this.next) return
    this.drop(live)
    const c = this.c
    const cur = this.cur!
    if (live === this.next) {
      this.next = undefined
      if (live.i === cur.i) return kind === 'retry' ? this.sync() : this.end(cur, kind, why)
      // A better transport still fails: try the next better one, else wait longer.
      if (live.i + 1 < cur.i) return this.probe(live.i + 1)
      this.upMs = Math.min(this.upMs * 2, c.o.upgradeAfter * 16)
      this.plan()
      return this.sync()
    }
    // A wire opening beside the lost one carries on in its place.
    const next = (this.cur = this.next)
    this.next = undefined
    if (next) return next.ok ? this.settle(next) : undefined
    if (kind === 'retry') return this.open(live.i)
    if (kind === 'refused') {
      this.why.push(why)
      if (++this.tries < c.o.transports.length) return this.open((live.i + 1) % c.o.transports.length)
    }
    // Lost, or every transport refused: wait, then start again from the one that worked last.
    c._report('disconnected', undefined, why)
    const [first, most] = c.o.backoff
    const ms = Math.min(most, first * 2 ** this.attempt++) * (0.5 + Math.random() / 2)
    this.retryT = setTimeout(() => {
      this.retryT = undefined
      this.start()
    }, ms)
  }

  private drop(live: Live): void {
    clearTimeout(live.timer)
    live.t?.close()
  }

  private plan(): void {
    clearTimeout(this.upT)
    this.upT = setTimeout(() => {
      this.upT = undefined
      this.probe(0)
    }, this.upMs)
  }

  /** Opens transport `j` beside the one in use, if it is better. */
  private probe(j: number): void {
    const cur = this.cur
    if (!cur?.ok || j >= cur.i) return
    if (this.next) return this.plan()
    if (streaming(this.c.o.transports[j]) && !this.c._subs.size) return this.probe(j + 1)
    this.open(j, true)
  }

  /** Herald pings every few seconds on WebSocket, SSE and NDJSON: silence means a dead wire. */
  private readonly watch = (): void => {
    const live = this.cur
    const o = this.c.o
    if (live?.ok && o.transports[live.i] !== 'lp' && Date.now() - live.heard > o.staleAfter) {
      this.end(live, 'lost', `${o.transports[live.i]}: silent for ${o.staleAfter} ms`)
    }
  }

  private readonly offline = (): void => {
    if (this.cur) this.end(this.cur, 'lost', 'offline')
  }

  /** Back online: retry now rather than at the end of the backoff. */
  private readonly online = (): void => {
    if (!this.retryT) return
    clearTimeout(this.retryT)
    this.retryT = undefined
    this.attempt = 0
    this.start()
  }
}
