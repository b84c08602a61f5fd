// One conformance suite for the Broker contract (src/broker/broker.ts), run against every broker
// the way hono runs its router cases against each router: memory, Redis and NATS JetStream pass
// the same tests. Every wait has a deadline; every test works in a space of its own (a key
// prefix, a JetStream stream) that the target cleans up.
import assert from 'node:assert/strict'
import { after, afterEach, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { BrokerUnavailable, HistoryUnavailable, type Broker, type BrokerEvents, type BrokerState } from '../../src/broker/broker.js'
import type { StreamMessage, StreamPosition } from '../../src/protocol/messages.js'
import { until } from '../support/util.js'

export interface ConformanceOptions {
  historyLimit: number
  historyTtlMs: number
  /** Brokers created with the same space share streams: nodes of one cluster. */
  space: string
}

/** A server of the target's own, which the suite stops and starts (broker restart tests). */
export interface RestartableServer {
  create(events: BrokerEvents, options: ConformanceOptions): Promise<Broker>
  stop(): Promise<void>
  /** Starts again on the same address; `wipe` drops every kept message first (history lost). */
  start(options: { wipe: boolean }): Promise<void>
  close(): Promise<void>
}

export interface ConformanceTarget {
  name: string
  /** A started broker. */
  create(events: BrokerEvents, options: ConformanceOptions): Promise<Broker>
  /** Whether brokers of one space share streams, stores and notifications (false: memory). */
  shared: boolean
  /** Removes what a space left on the server. */
  cleanup?(space: string): Promise<void>
  /** A private server for the restart tests. */
  restartable?(): Promise<RestartableServer>
}

/** What a broker reported, for assertions. */
class Recorder implements BrokerEvents {
  readonly messages: StreamMessage[] = []
  readonly states: BrokerState[] = []
  readonly notes: [string, string][] = []
  resubscribes = 0
  message = (m: StreamMessage): void => void this.messages.push(m)
  resubscribed = (): void => void this.resubscribes++
  stateChanged = (state: BrokerState): void => void this.states.push(state)
  notified = (topic: string, payload: string): void => void this.notes.push([topic, payload])
  of(stream: string): StreamMessage[] {
    return this.messages.filter((m) => m.stream === stream)
  }
}

const offsets = (list: readonly StreamMessage[]) => list.map((m) => m.offset)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const unavailable = (pattern: RegExp) => (err: unknown) => err instanceof HistoryUnavailable && pattern.test(err.message)
const top = async (broker: Broker, stream: string): Promise<StreamPosition> => (await broker.history(stream, { limit: 0 })).top

const RUN = `${process.pid.toString(36)}${Date.now().toString(36)}`

export function runBrokerConformance(target: ConformanceTarget): void {
  let spaces = 0
  const opened: Broker[] = []
  const used: string[] = []
  const space = () => {
    const s = `t${RUN}x${++spaces}`
    used.push(s)
    return s
  }
  /** A started broker and its recorder; closed after the test. */
  const make = async (options: Partial<ConformanceOptions> = {}) => {
    const events = new Recorder()
    const broker = await target.create(events, { historyLimit: 100, historyTtlMs: 60_000, space: options.space ?? space(), ...options })
    opened.push(broker)
    return { broker, events }
  }

  describe(`broker conformance: ${target.name}`, () => {
    afterEach(async () => {
      for (const b of opened.splice(0)) await b.close()
    })
    after(async () => {
      if (target.cleanup) for (const s of used.splice(0)) await target.cleanup(s)
    })

    test('offsets are dense from 1 per stream, one epoch per stream; an unknown stream stands at 0 and its first publish continues that epoch', async () => {
      const { broker } = await make()
      assert.equal(broker.state, 'up')
      const a1 = await broker.publish('a', '1')
      const a2 = await broker.publish('a', '"two"')
      const b1 = await broker.publish('b', '{"x":1}')
      assert.deepEqual([a1.offset, a2.offset, b1.offset], [1, 2, 1])
      assert.equal(a1.epoch, a2.epoch)
      assert.match(a1.epoch, /^[\w-]+$/)
      assert.deepEqual([a2.stream, a2.data, b1.data], ['a', '"two"', '{"x":1}'])
      assert.ok(Math.abs(a1.at - Date.now()) < 5_000, 'at is the time the broker accepted it (ms)')
      assert.deepEqual(await top(broker, 'a'), { offset: 2, epoch: a1.epoch })
      const fresh = await top(broker, 'never')
      assert.equal(fresh.offset, 0)
      assert.match(fresh.epoch, /^[\w-]+$/)
      assert.deepEqual(await top(broker, 'never'), fresh, 'reading the top again gives the same epoch')
      const first = await broker.publish('never', '1')
      assert.deepEqual({ offset: first.offset, epoch: first.epoch }, { offset: 1, epoch: fresh.epoch })
    })

    test('delivers only subscribed streams, in offset order; nothing after unsubscribe', async () => {
      const { broker, events } = await make()
      await broker.publish('s', '"before"')
      await broker.subscribe('s')
      await broker.subscribe('marker')
      for (let i = 0; i < 20; i++) await broker.publish(i % 4 === 0 ? 'other' : 's', String(i))
      await until(() => events.of('s').length === 15, 'the 15 messages of s')
      assert.deepEqual(offsets(events.of('s')), range(2, 16))
      assert.equal(events.of('other').length, 0)
      broker.unsubscribe('s')
      await broker.publish('s', '"after"')
      // One connection delivers in order: once the marker's message is here, s's would be too.
      await broker.publish('marker', '1')
      await until(() => events.of('marker').length === 1, 'the marker')
      assert.equal(events.of('s').length, 15)
    })

    test('subscribe, then history, with a concurrent publisher: every offset arrives live or in history', async () => {
      const { broker, events } = await make({ historyLimit: 10_000 })
      let publishing = true
      let published = 0
      const publisher = (async () => {
        while (publishing) {
          published = (await broker.publish('busy', String(published))).offset
          // The memory broker resolves at once: let timers run between publications.
          if (published % 10 === 0) await new Promise(setImmediate)
        }
      })()
      await until(() => published >= 20, 'a few publications first')
      await broker.subscribe('busy')
      const { messages, top: position } = await broker.history('busy', { sinceMs: 0 })
      await until(() => published >= position.offset + 20, 'more publications after the history read')
      publishing = false
      await publisher
      await until(() => events.of('busy').at(-1)?.offset === published, 'the last publication live')
      const seen = new Set([...offsets(messages), ...offsets(events.of('busy'))])
      const missing = range(1, published).filter((o) => !seen.has(o))
      assert.deepEqual(missing, [], `of ${published}, history gave ${messages.length} and live ${events.of('busy').length}`)
      const live = offsets(events.of('busy'))
      assert.deepEqual(live, [...live].sort((x, y) => x - y), 'live delivery is in order')
    })

    test('history by position, by time and with a limit; limit 0 is the top only', async () => {
      const { broker } = await make()
      const sent: StreamMessage[] = []
      for (let i = 1; i <= 5; i++) {
        sent.push(await broker.publish('h', JSON.stringify({ i })))
        if (i === 2) await sleep(20) // messages 3..5 are strictly later than 1..2
      }
      const { epoch } = sent[0]
      const after2 = await broker.history('h', { after: { epoch, offset: 2 } })
      assert.deepEqual(offsets(after2.messages), [3, 4, 5])
      assert.deepEqual(after2.top, { epoch, offset: 5 })
      assert.deepEqual(after2.messages[0], sent[2], 'the kept message is the published one (stream, data, offset, epoch, at)')
      assert.deepEqual(offsets((await broker.history('h', { after: { epoch, offset: 0 } })).messages), [1, 2, 3, 4, 5])
      assert.deepEqual(offsets((await broker.history('h', { after: { epoch, offset: 0 }, limit: 2 })).messages), [1, 2])
      assert.deepEqual(offsets((await broker.history('h', { after: { epoch, offset: 0 }, limit: 2.5 })).messages), [1, 2], 'at most the limit, a fraction too')
      assert.deepEqual(offsets((await broker.history('h', { sinceMs: 0, limit: 2.5 })).messages), [1, 2])
      assert.deepEqual((await broker.history('h', { after: { epoch, offset: 5 } })).messages, [])
      assert.deepEqual(await broker.history('h', { after: { epoch, offset: 1 }, limit: 0 }), { messages: [], top: { epoch, offset: 5 } })
      assert.deepEqual(offsets((await broker.history('h', { sinceMs: sent[2].at })).messages), [3, 4, 5])
      assert.deepEqual(offsets((await broker.history('h', { sinceMs: sent[2].at, limit: 1 })).messages), [3])
      assert.deepEqual(offsets((await broker.history('h', { sinceMs: 0 })).messages), [1, 2, 3, 4, 5])
      assert.deepEqual((await broker.history('h', { sinceMs: sent[4].at + 60_000 })).messages, [])
      assert.deepEqual(await broker.history('h'), { messages: [], top: { epoch, offset: 5 } }, 'no after, no since: the top only')
      assert.deepEqual((await broker.history('nothing', { sinceMs: 0 })).messages, [])
    })

    test('HistoryUnavailable for another epoch, an offset beyond the top, and messages no longer kept', async () => {
      const { broker } = await make({ historyLimit: 3 })
      let epoch = ''
      for (let i = 1; i <= 10; i++) epoch = (await broker.publish('u', String(i))).epoch
      await assert.rejects(broker.history('u', { after: { epoch: `${epoch}x`, offset: 1 } }), unavailable(/epoch/))
      await assert.rejects(broker.history('u', { after: { epoch, offset: 11 } }), unavailable(/beyond/))
      await assert.rejects(broker.history('u', { after: { epoch, offset: 6 } }), unavailable(/no longer kept/))
      await assert.rejects(broker.history('u', { after: { epoch, offset: 0 } }), unavailable(/no longer kept/))
      assert.deepEqual(offsets((await broker.history('u', { after: { epoch, offset: 7 } })).messages), [8, 9, 10], '--history-limit keeps the latest')
      assert.deepEqual(offsets((await broker.history('u', { sinceMs: 0 })).messages), [8, 9, 10])
      const other = await top(broker, 'unknown')
      await assert.rejects(broker.history('unknown', { after: { epoch, offset: 0 } }), unavailable(/epoch/), 'an unknown stream has an epoch of its own')
      assert.notEqual(other.epoch, epoch)
    })

    test('--history-limit 0 keeps nothing but still numbers messages', async () => {
      const { broker } = await make({ historyLimit: 0 })
      await broker.publish('z', '1')
      const m = await broker.publish('z', '2')
      assert.equal(m.offset, 2)
      assert.deepEqual((await broker.history('z', { after: { epoch: m.epoch, offset: 2 } })).messages, [])
      await assert.rejects(broker.history('z', { after: { epoch: m.epoch, offset: 1 } }), unavailable(/no longer kept/))
      assert.deepEqual((await broker.history('z', { sinceMs: 0 })).messages, [])
    })

    test('--history-ttl: expired messages are no longer served; the stream goes on in its epoch or starts a new one at 1', async () => {
      const { broker } = await make({ historyTtlMs: 1000 })
      const first = await broker.publish('t', '1')
      await broker.publish('t', '2')
      await sleep(1300)
      const { epoch } = first
      await assert.rejects(broker.history('t', { after: { epoch, offset: 0 } }), unavailable(/no longer kept|epoch/))
      assert.deepEqual((await broker.history('t', { sinceMs: 0 })).messages, [])
      const next = await broker.publish('t', '3')
      if (next.epoch === epoch) assert.equal(next.offset, 3, 'the same epoch goes on densely')
      else assert.equal(next.offset, 1, 'a new epoch once history is lost starts at 1')
      assert.deepEqual(offsets((await broker.history('t', { sinceMs: 0 })).messages), [next.offset])
    })

    test('1,000 streams at once: subscribed, published concurrently, each dense and in order', async () => {
      const { broker, events } = await make()
      const streams = range(1, 1000).map((i) => `many-${i}`)
      await Promise.all(streams.map((s) => broker.subscribe(s)))
      for (let round = 1; round <= 3; round++) {
        const got = await Promise.all(streams.map((s) => broker.publish(s, String(round))))
        assert.ok(got.every((m) => m.offset === round), `round ${round}: every stream at offset ${round}`)
      }
      await until(() => events.messages.length === 3000, 'all 3,000 messages live', 20_000)
      const byStream = new Map<string, number[]>()
      for (const m of events.messages) byStream.set(m.stream, [...(byStream.get(m.stream) ?? []), m.offset])
      assert.equal(byStream.size, 1000)
      for (const list of byStream.values()) assert.deepEqual(list, [1, 2, 3])
      for (const s of streams) broker.unsubscribe(s)
    })

    test('publishBatch: offsets follow the list per stream; delivery in the same order', async () => {
      const { broker, events } = await make()
      await broker.subscribe('x')
      await broker.subscribe('y')
      await broker.publish('x', '0')
      const list = [
        { stream: 'x', data: '1' }, { stream: 'y', data: '1' }, { stream: 'x', data: '2' },
        { stream: 'x', data: '3' }, { stream: 'y', data: '2' },
      ]
      const got = await broker.publishBatch(list)
      assert.deepEqual(got.map((m) => [m.stream, m.offset, m.data]), [['x', 2, '1'], ['y', 1, '1'], ['x', 3, '2'], ['x', 4, '3'], ['y', 2, '2']])
      await until(() => events.messages.length === 6, 'six messages live')
      assert.deepEqual(offsets(events.of('x')), [1, 2, 3, 4])
      assert.deepEqual(events.of('y').map((m) => m.data), ['1', '2'])
      assert.deepEqual(await broker.publishBatch([]), [])
    })

    test('store(): get, set, take, delete, TTL; of two concurrent takes one wins', async () => {
      const { broker } = await make()
      const store = broker.store('things', 60_000)
      assert.equal(broker.store('things', 60_000), store, 'one store per namespace')
      assert.equal(await store.get('k'), undefined)
      await store.set('k', 'v1')
      await store.set('k', 'v2')
      assert.equal(await store.get('k'), 'v2')
      const weird = 'a key/with spaces.{braces}*>'
      await store.set(weird, '{"json":true}')
      assert.equal(await store.get(weird), '{"json":true}')
      assert.equal(await broker.store('others', 60_000).get('k'), undefined, 'namespaces are apart')
      const takes = await Promise.all([store.take('k'), store.take('k')])
      assert.deepEqual(takes.filter((v) => v !== undefined), ['v2'], 'exactly one take gets the value')
      assert.equal(await store.get('k'), undefined)
      await store.delete(weird)
      assert.equal(await store.get(weird), undefined)
      await store.delete('absent')
      const short = broker.store('short', 1000)
      await short.set('e', 'x')
      assert.equal(await short.get('e'), 'x')
      await sleep(1300)
      assert.equal(await short.get('e'), undefined, 'gone after its TTL')
      assert.equal(await short.take('e'), undefined)
    })

    test('notify reaches this broker' + (target.shared ? ' and every other broker of the space' : ''), async () => {
      const a = await make()
      const b = target.shared ? await make({ space: used.at(-1) }) : undefined
      await a.broker.notify('jobs.cancel', '{"id":"j1"}')
      await until(() => a.events.notes.length === 1, 'the note on this broker')
      if (b) await until(() => b.events.notes.length === 1, 'the note on the other broker')
      for (const r of [a.events, b?.events]) if (r) assert.deepEqual(r.notes, [['jobs.cancel', '{"id":"j1"}']])
    })

    test('close(): the state is closed, said once; closing again is harmless' + (target.shared ? '; a network broker refuses work after it with BrokerUnavailable' : ''), async () => {
      const { broker, events } = await make()
      await broker.close()
      assert.equal(broker.state, 'closed')
      await broker.close()
      const said = events.states.filter((s) => s === 'closed').length
      assert.ok(target.shared ? said === 1 : said <= 1, `closed said ${said} times: ${events.states.join(', ')}`)
      if (target.shared) await assert.rejects(broker.publish('after-close', '1'), BrokerUnavailable)
    })

    if (target.shared) {
      test('streamCount: the streams this node subscribes to', async () => {
        const { broker } = await make()
        assert.equal(broker.streamCount, 0)
        await broker.subscribe('count-a')
        await broker.subscribe('count-b')
        await broker.subscribe('count-b')
        assert.equal(broker.streamCount, 2)
        broker.unsubscribe('count-a')
        broker.unsubscribe('never-subscribed')
        assert.equal(broker.streamCount, 1)
      })

      test('two nodes publishing to one stream at once: offsets stay dense and unique; both deliver every one in order', async () => {
        const a = await make()
        const b = await make({ space: used.at(-1) })
        await a.broker.subscribe('shared')
        await b.broker.subscribe('shared')
        const each = 50
        const results = await Promise.all([a.broker, b.broker].map(async (broker, n) => {
          const got: StreamMessage[] = []
          for (let i = 0; i < each; i++) got.push(await broker.publish('shared', `"${n}-${i}"`))
          return got
        }))
        const all = results.flat()
        assert.deepEqual(offsets(all).sort((x, y) => x - y), range(1, 2 * each))
        assert.equal(new Set(all.map((m) => m.epoch)).size, 1)
        for (const r of [a.events, b.events]) {
          await until(() => r.of('shared').length === 2 * each, 'every message on both nodes')
          assert.deepEqual(offsets(r.of('shared')), range(1, 2 * each))
        }
        const history = await a.broker.history('shared', { sinceMs: 0 })
        assert.deepEqual(history.messages.map((m) => m.data), b.events.of('shared').map((m) => m.data), 'history and live agree')
      })

      test('a stream published on one node is read and continued on another', async () => {
        const a = await make()
        const b = await make({ space: used.at(-1) })
        const first = await a.broker.publish('moves', '1')
        assert.deepEqual(await top(b.broker, 'moves'), { offset: 1, epoch: first.epoch })
        const second = await b.broker.publish('moves', '2')
        assert.deepEqual([second.offset, second.epoch], [2, first.epoch])
        const third = await a.broker.publish('moves', '3')
        assert.equal(third.offset, 3)
      })
    }

    if (target.restartable) {
      describe(`${target.name}: the broker server restarts`, () => {
        let server: RestartableServer
        afterEach(async () => {
          for (const b of opened.splice(0)) await b.close()
          await server?.close()
        })

        const restartCase = (wipe: boolean) => async () => {
          server = await target.restartable!()
          const events = new Recorder()
          const s = space()
          const broker = await server.create(events, { historyLimit: 100, historyTtlMs: 60_000, space: s })
          opened.push(broker)
          await broker.subscribe('r')
          // A store used before the restart: NATS keeps it in a KV bucket the server may lose.
          const kept = broker.store('kept', 60_000)
          await kept.set('before', '1')
          for (let i = 1; i <= 5; i++) await broker.publish('r', String(i))
          await until(() => events.of('r').length === 5, 'five live')
          const { epoch } = events.of('r')[0]

          await server.stop()
          await until(() => broker.state === 'down', 'state down', 10_000)
          const started = Date.now()
          await assert.rejects(broker.publish('r', '"lost"'), BrokerUnavailable, 'a publish while down rejects with BrokerUnavailable')
          assert.ok(Date.now() - started < 2000, 'and fast (no queue waiting for the server)')
          await assert.rejects(broker.subscribe('other') ?? Promise.reject(new BrokerUnavailable('sync')), BrokerUnavailable)

          await server.start({ wipe })
          await until(() => broker.state === 'up' && events.resubscribes === 1, 'up again and resubscribed', 20_000)
          assert.deepEqual(events.states.slice(-2), ['down', 'up'])

          const next = await broker.publish('r', '6')
          await until(() => events.of('r').length === 6, 'delivery resumes after the restart', 10_000)
          assert.deepEqual(events.of('r').at(-1), next)
          if (!wipe) {
            assert.deepEqual([next.epoch, next.offset], [epoch, 6], 'the stream goes on where it was')
            assert.deepEqual(offsets((await broker.history('r', { after: { epoch, offset: 2 } })).messages), [3, 4, 5, 6], 'history that survived still serves')
          } else {
            assert.notEqual(next.epoch, epoch, 'history was lost: a new epoch')
            assert.equal(next.offset, 1)
            await assert.rejects(broker.history('r', { after: { epoch, offset: 5 } }), unavailable(/epoch/))
          }
          const store = broker.store('after-restart', 60_000)
          await store.set('k', 'v')
          assert.equal(await store.take('k'), 'v', 'stores work after the restart')
          assert.equal(await kept.get('before'), wipe ? undefined : '1', 'a store from before keeps what the server kept')
          await kept.set('k', 'v')
          assert.equal(await kept.take('k'), 'v', 'and works after the restart')
        }

        test('with its data kept: down, then up, resubscribed; delivery and history go on in the same epoch', restartCase(false))
        test('with its data lost: down, then up, resubscribed; the stream starts a new epoch', restartCase(true))
      })
    }
  })
}
