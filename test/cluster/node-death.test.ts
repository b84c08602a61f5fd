// Three Herald processes on Redis; one is killed with SIGKILL mid-stream. Its WebSocket, SSE and
// long-poll clients reconnect to another node and resume with their sid (restore), their
// Last-Event-ID, and their poll id: every message arrives once, in order.
import assert from 'node:assert/strict'
import http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, test } from 'node:test'
import { WebSocket } from 'ws'
import { until } from '../support/util.js'
import { publicId, subscribeLine } from '../support/wire.js'
import { BROKERS, runPrefix } from './brokers.js'
import { startNode, type NodeProcess } from './processes.js'

const STREAM = 'death'
const TOTAL = 40
const redis = BROKERS.find((b) => b.name === 'redis')!
const prefix = runPrefix('d')
const nodes: NodeProcess[] = []
after(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  await redis.clean(prefix)
})

/** A WebSocket client as @anycable/core behaves: restore by sid, then history from its last position. */
class ResumingSocket {
  readonly offsets: number[] = []
  /** Welcomes that restored the session by its sid. */
  restores = 0
  private sid = ''
  private last: { epoch: string; offset: number } | undefined
  private ws: WebSocket | undefined
  private stopped = false
  constructor(private readonly urls: string[]) {}

  stop(): void {
    this.stopped = true
    this.ws?.terminate()
  }

  connect(index = 0): void {
    if (this.stopped) return
    const url = `${this.urls[index].replace('http', 'ws')}/cable${this.sid ? `?sid=${encodeURIComponent(this.sid)}` : ''}`
    const ws = (this.ws = new WebSocket(url, 'actioncable-v1-ext-json'))
    ws.on('error', () => {})
    ws.on('close', () => setTimeout(() => this.connect((index + 1) % this.urls.length), 50))
    ws.on('message', (data) => {
      const m = JSON.parse(String(data))
      if (m.type === 'welcome') {
        this.sid = m.sid
        if (m.restored) this.restores++
        const history = this.last ? { streams: { [STREAM]: this.last } } : undefined
        if (m.restored) ws.send(JSON.stringify({ command: 'history', identifier: publicId(STREAM), history: history ?? { since: 1 } }))
        else ws.send(JSON.stringify({ command: 'subscribe', identifier: publicId(STREAM), history }))
      } else if (m.stream_id === STREAM) {
        this.offsets.push(m.offset)
        this.last = { epoch: m.epoch, offset: m.offset }
      }
    })
  }
}

/** An EventSource as a browser behaves: on a cut, reconnect with Last-Event-ID. */
class ResumingEventSource {
  readonly offsets: number[] = []
  private lastId = ''
  private req: http.ClientRequest | undefined
  private stopped = false
  constructor(private readonly urls: string[]) {}

  stop(): void {
    this.stopped = true
    this.req?.destroy()
  }

  connect(index = 0): void {
    if (this.stopped) return
    const headers: Record<string, string> = this.lastId ? { 'last-event-id': this.lastId } : {}
    const retry = () => setTimeout(() => this.connect((index + 1) % this.urls.length), 50)
    const req = (this.req = http.get(`${this.urls[index]}/events?stream=${STREAM}`, { headers, agent: false }, (res) => {
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const id = /^id: (.*)$/m.exec(buffer.slice(0, end))?.[1]
          buffer = buffer.slice(end + 2)
          if (id === undefined) continue
          this.lastId = id
          this.offsets.push(Number(id.split('/')[0]))
        }
      })
      res.on('close', retry)
    }))
    req.on('error', retry)
  }
}

/** AnyCable's long-poll client: one poll after another with the session's id, to whichever node answers. */
async function longPoll(urls: string[], offsets: number[], done: () => boolean): Promise<void> {
  let index = 0
  let pollId: string | undefined
  let body: string | undefined = subscribeLine(publicId(STREAM))
  while (!done()) {
    try {
      const res = await fetch(`${urls[index]}/lp`, { method: 'POST', headers: pollId ? { 'x-anycable-poll-id': pollId } : {}, body })
      pollId = res.headers.get('x-anycable-poll-id') ?? pollId
      body = undefined
      for (const line of (await res.text()).split('\n').filter(Boolean)) {
        const m = JSON.parse(line)
        if (m.stream_id === STREAM) offsets.push(m.offset)
      }
    } catch {
      index = (index + 1) % urls.length // the node is gone: the next poll goes elsewhere
      await sleep(50)
    }
  }
}

test('a node killed with SIGKILL mid-stream: its WebSocket, SSE and long-poll clients resume on another node, every message once and in order', async () => {
  const args = ['--broker', 'redis', '--redis-url', String(redis.config(prefix).redisUrl), '--broker-prefix', prefix,
    '--public-streams', '--streams-secret', 'death-test', '--poll-interval', '1', '--poll-flush-interval', '0.02']
  nodes.push(...await Promise.all([0, 1, 2].map(() => startNode(args))))
  const [victim, survivor, publisher] = nodes
  const urls = [victim.url, survivor.url]
  const ws = new ResumingSocket(urls)
  const sse = new ResumingEventSource(urls)
  const lp: number[] = []
  ws.connect()
  sse.connect()
  const polling = longPoll(urls, lp, () => lp.length >= TOTAL)
  await until(() => ws.offsets.length === 0 && sse.offsets.length === 0, 'clients connecting')
  await sleep(500) // each client has subscribed on the victim
  for (let n = 1; n <= TOTAL; n++) {
    const res = await fetch(`${publisher.url}/_broadcast`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stream: STREAM, data: { n } }) })
    assert.equal(res.status, 201)
    if (n === 15) await victim.kill('SIGKILL')
    await sleep(25)
  }
  const all = Array.from({ length: TOTAL }, (_, k) => k + 1)
  try {
    for (const [name, offsets] of [['WebSocket', ws.offsets], ['SSE', sse.offsets], ['long poll', lp]] as const) {
      await until(() => offsets.length >= TOTAL, `${name}: all ${TOTAL} messages`, 20_000)
      assert.deepEqual(offsets, all, `${name}: once each, in order`)
    }
    await polling
    // The killed node saved nothing on its way out: the session was kept while it lived.
    assert.equal(ws.restores, 1, 'the WebSocket session was restored on the survivor by its sid')
  } finally {
    ws.stop()
    sse.stop()
  }
})
