import http from 'node:http'
import type { TestHerald } from '../support/herald.js'
import { until } from '../support/util.js'

/** One parsed SSE event (WHATWG HTML §9.2.6, enough for tests). */
export interface SseEvent {
  event: string
  data: string
  id?: string
  retry?: number
}

/**
 * A streaming HTTP GET/POST over node:http that collects SSE events or NDJSON lines as they come.
 * (EventSource is not in Node 20, so SSE is parsed here by hand.)
 */
export class StreamReader {
  status = 0
  headers: http.IncomingHttpHeaders = {}
  body = ''
  ended = false
  readonly events: SseEvent[] = []
  readonly lines: any[] = []
  private req!: http.ClientRequest
  private buffer = ''
  private readonly opened: Promise<void>

  constructor(url: string, options: { headers?: Record<string, string>; method?: string; body?: string; mode: 'sse' | 'ndjson' }) {
    this.opened = new Promise((resolve, reject) => {
      this.req = http.request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
        this.status = res.statusCode ?? 0
        this.headers = res.headers
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          this.body += chunk
          this.buffer += chunk
          if (options.mode === 'sse') this.parseSse()
          else this.parseLines()
        })
        res.on('end', () => { this.ended = true })
        res.on('error', () => { this.ended = true })
        res.on('close', () => { this.ended = true })
        resolve()
      })
      this.req.on('error', reject)
      this.req.end(options.body)
    })
  }

  static sse(url: string, headers: Record<string, string> = {}, init: { method?: string; body?: string } = {}): Promise<StreamReader> {
    const r = new StreamReader(url, { headers, mode: 'sse', ...init })
    return r.opened.then(() => r)
  }

  static ndjson(url: string, headers: Record<string, string> = {}): Promise<StreamReader> {
    const r = new StreamReader(url, { headers, mode: 'ndjson' })
    return r.opened.then(() => r)
  }

  /** Data events (no `event:` line), their JSON parsed. */
  get data(): any[] {
    return this.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data))
  }

  waitFor<T>(check: () => T, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
    return until(check, what, timeoutMs)
  }

  waitEnded(): Promise<boolean> {
    return until(() => this.ended, 'the response to end')
  }

  /** Drops the connection as a client that vanished would. */
  destroy(): void {
    this.req.destroy()
  }

  private parseSse(): void {
    for (;;) {
      const end = this.buffer.indexOf('\n\n')
      if (end < 0) return
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      const e: SseEvent = { event: 'message', data: '' }
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue
        const i = line.indexOf(':')
        const field = i < 0 ? line : line.slice(0, i)
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
        if (field === 'event') e.event = value
        else if (field === 'data') data.push(value)
        else if (field === 'id') e.id = value
        else if (field === 'retry') e.retry = Number(value)
      }
      e.data = data.join('\n')
      this.events.push(e)
    }
  }

  private parseLines(): void {
    let nl
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl)
      this.buffer = this.buffer.slice(nl + 1)
      if (line.trim()) this.lines.push(JSON.parse(line))
    }
  }
}

/** One long-poll request: status, poll id and the JSON Lines it answered with. */
export async function lpPost(url: string, options: { pollId?: string; body?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  const headers: Record<string, string> = { ...options.headers }
  if (options.pollId) headers['x-anycable-poll-id'] = options.pollId
  const res = await fetch(url, { method: 'POST', headers, body: options.body ?? '', signal: options.signal })
  const text = await res.text()
  const lines = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
  return { status: res.status, pollId: res.headers.get('x-anycable-poll-id') ?? undefined, lines, headers: res.headers }
}

/** What a Herald holds for its clients; back at these numbers = nothing leaked. */
export function holdings(h: TestHerald) {
  const s = h.herald.stats()
  return {
    connections: s.connections.total,
    subscriptions: s.subscriptions,
    deadlines: s.deadlines,
    longPollSessions: s.longPoll.sessions,
    heldLongPolls: s.longPoll.heldPolls,
    heldJobPolls: s.jobPoll.heldPolls,
  }
}

export const NO_HOLDINGS = { connections: 0, subscriptions: 0, deadlines: 0, longPollSessions: 0, heldLongPolls: 0, heldJobPolls: 0 }

/** Starts a demo job; resolves with its JSON (id, stream, signedStream). */
export async function startJob(baseUrl: string, input: Record<string, unknown> = { steps: 4, delayMs: 40 }, type = 'demo'): Promise<any> {
  const res = await fetch(`${baseUrl}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, input }) })
  if (res.status !== 201) throw new Error(`POST /jobs answered ${res.status}`)
  return res.json()
}
