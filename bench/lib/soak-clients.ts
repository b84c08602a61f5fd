import http from 'node:http'
import { WebSocket } from 'ws'

// The soak's clients, all in the harness process (a few thousand mostly idle connections are
// cheap to hold; the load is the server's): WebSocket, SSE and long-poll subscribers on random
// streams that are closed and replaced at a steady rate, and WebSocket readers that stop reading
// a firehose stream until Herald cuts them too_slow.

const identifier = (stream: string) => JSON.stringify({ channel: '$pubsub', stream_name: stream })
const subscribe = (stream: string) => JSON.stringify({ command: 'subscribe', identifier: identifier(stream) })

export type SoakTransport = 'ws' | 'sse' | 'long-poll'

export interface SoakCounters {
  /** Data messages received by every client so far. */
  delivered: number
  opened: number
  /** Connections that could not open or broke without being asked to (the server's refusals included). */
  failed: number
}

interface Client {
  close(): void
}

/** One subscriber of `stream` over `transport`, counting what it receives into `counters`. */
function openClient(port: number, transport: SoakTransport, stream: string, counters: SoakCounters, agent: http.Agent): Client {
  counters.opened++
  if (transport === 'ws') {
    let closing = false
    const ws = new WebSocket(`ws://127.0.0.1:${port}/cable`, 'actioncable-v1-ext-json')
    ws.on('open', () => ws.send(subscribe(stream)))
    // A data message is the only kind with "message" and no "type" first: counting by prefix keeps JSON.parse off the harness's CPU.
    ws.on('message', (data: Buffer) => { if (data[2] === 0x69 /* {"i */) counters.delivered++ })
    // Closed by the churn while still connecting, ws reports an error: that one is the harness's own.
    ws.on('error', () => { if (!closing) counters.failed++ })
    return { close: () => { closing = true; ws.terminate() } }
  }
  if (transport === 'sse') {
    let done = false
    const req = http.get({ host: '127.0.0.1', port, path: `/events?stream=${encodeURIComponent(stream)}`, agent: false }, (res) => {
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        for (let i = chunk.indexOf('\nid: '); i >= 0; i = chunk.indexOf('\nid: ', i + 1)) counters.delivered++
      })
      res.on('error', () => {})
    })
    req.on('error', () => { if (!done) counters.failed++ })
    return { close: () => { done = true; req.destroy() } }
  }
  // Long polling: the first POST subscribes, then each poll is answered and asked again at once.
  let stopped = false
  let current: http.ClientRequest | undefined
  const poll = (pollId: string | undefined) => {
    if (stopped) return
    const body = pollId ? '' : subscribe(stream)
    current = http.request({ host: '127.0.0.1', port, path: '/lp', method: 'POST', agent, headers: pollId ? { 'x-anycable-poll-id': pollId } : {} }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => {
        for (let i = text.indexOf('"stream_id"'); i >= 0; i = text.indexOf('"stream_id"', i + 1)) counters.delivered++
        const id = res.headers['x-anycable-poll-id']
        if (res.statusCode !== 200 || typeof id !== 'string') { if (!stopped) counters.failed++; return }
        poll(id)
      })
    })
    current.on('error', () => { if (!stopped) counters.failed++ })
    current.end(body)
  }
  poll(undefined)
  return { close: () => { stopped = true; current?.destroy() } }
}

/** A WebSocket reader of `stream` that stops reading once subscribed (its socket paused). */
function openStalled(port: number, stream: string): Client {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/cable`, 'actioncable-v1-ext-json')
  ws.on('open', () => ws.send(subscribe(stream)))
  ws.on('message', (data: Buffer) => {
    if (data.includes('confirm_subscription')) (ws as unknown as { _socket: { pause(): void } })._socket.pause()
  })
  ws.on('error', () => {})
  return { close: () => ws.terminate() }
}

export interface ChurnOptions {
  port: number
  connections: number
  /** Streams the subscribers spread over. */
  streams: number
  /** Share of connections replaced per second. */
  churnPerSecond: number
  /** Stalled readers opened every `stallEverySeconds`, each dropped by the harness after `stallLifeSeconds`. */
  stalled: number
  stallEverySeconds: number
  stallLifeSeconds: number
  firehose: string
}

/** The churning population: holds `connections` subscribers, replaces some each second, adds stalled readers. */
export class SoakPopulation {
  readonly counters: SoakCounters = { delivered: 0, opened: 0, failed: 0 }
  reconnects = 0
  stalledOpened = 0
  private readonly clients: Client[] = []
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
  private timers: NodeJS.Timeout[] = []
  private seconds = 0

  constructor(private readonly o: ChurnOptions) {}

  /** Transport of the i-th connection: 60% WebSocket, 25% SSE, 15% long polling. */
  private transportOf(i: number): SoakTransport {
    const r = i % 20
    return r < 12 ? 'ws' : r < 17 ? 'sse' : 'long-poll'
  }

  private open(i: number): Client {
    return openClient(this.o.port, this.transportOf(i), `soak/${Math.floor(Math.random() * this.o.streams)}`, this.counters, this.agent)
  }

  /** Opens every connection, a batch per turn so the server's accept queue is not flooded. */
  async start(): Promise<void> {
    for (let i = 0; i < this.o.connections; i++) {
      this.clients.push(this.open(i))
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50))
    }
    this.timers.push(setInterval(() => this.tick(), 1000))
  }

  private tick(): void {
    this.seconds++
    const n = Math.max(1, Math.round(this.o.connections * this.o.churnPerSecond))
    for (let k = 0; k < n; k++) {
      const i = Math.floor(Math.random() * this.clients.length)
      this.clients[i].close()
      this.clients[i] = this.open(i)
      this.reconnects++
    }
    if (this.seconds % this.o.stallEverySeconds === 0) {
      for (let k = 0; k < this.o.stalled; k++) {
        const c = openStalled(this.o.port, this.o.firehose)
        this.stalledOpened++
        this.timers.push(setTimeout(() => c.close(), this.o.stallLifeSeconds * 1000))
      }
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t)
    for (const c of this.clients) c.close()
    this.agent.destroy()
  }
}
