import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { deferred, scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// Everything here happens in this process within a few turns: a 2 s deadline is ample, and a
// mutant that breaks a wait fails it in 2 s rather than the suite's usual 10 (Stryker runs this
// file once per mutant it covers).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// A restored session's hold (docs/protocol.md, "Session restore"): restored channels hold live
// messages until the client's history request, or until the hold's 5 s run out. The sweep of the
// node's clients calls `expireRestoreHold(now)`; here a test calls it with the time it plays, so
// nothing waits for the 5 s.

const cores: ScriptedCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })
const setup = () => { const t = scriptedCore(); cores.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)
const offsets = (messages: any[], stream: string) => messages.filter((m) => m.stream_id === stream).map((m) => m.offset)

/** A session restored on a fresh wire; its hold ends 5 s after a moment between `before` and `after` (the same millisecond, most often). */
async function restored(t: ScriptedCore, streams: string[]) {
  const first = t.connect()
  for (const s of streams) await first.conn.subscribe(id(s))
  first.conn.closed(Disconnects.normal)
  await until(() => t.broker.storeOps.includes(`set ${first.conn.sid}`), 'kept')
  await turn()
  const before = Date.now()
  const again = t.connect({}, `http://test/cable?sid=${first.conn.sid}`)
  await turn() // the store answers; the session is restored
  const after = Date.now()
  await until(() => again.wire.messages()[0]?.restored === true, 'restored')
  return { ...again, before, after }
}

test('without a history request, a restored channel\'s held messages go out once the 5 s hold has passed, in order, once', async () => {
  const t = setup()
  const r = await restored(t, ['s', 'left'])
  await t.hub.publish('s', 1)
  await t.hub.publish('s', 2)
  r.conn.unsubscribe(id('left')) // a channel the client left meanwhile has nothing to release
  r.conn.expireRestoreHold(r.before + 4999) // a sweep before the hold is over
  await turn()
  assert.deepEqual(offsets(r.wire.messages(), 's'), [], 'still held')
  r.conn.expireRestoreHold(r.after + 5000) // the first sweep once it is over
  await until(() => offsets(r.wire.messages(), 's').length === 2, 'released')
  await t.hub.publish('s', 3)
  await until(() => offsets(r.wire.messages(), 's').length === 3, 'then live')
  r.conn.expireRestoreHold(r.after + 10_000) // later sweeps release nothing again
  await turn()
  assert.deepEqual(offsets(r.wire.messages(), 's'), [1, 2, 3])
  assert.equal(r.wire.closedWith, undefined)
})

test('a history request after the hold expired replays its backlog before the live messages, and later sweeps do not release them early', async () => {
  const t = setup()
  const r = await restored(t, ['s'])
  const m1 = await t.hub.publish('s', 1)
  r.conn.expireRestoreHold(r.after + 5000)
  await until(() => offsets(r.wire.messages(), 's').length === 1, 'released')
  const reading = deferred<undefined>()
  t.broker.historyWith = () => reading.promise
  r.conn.receive(JSON.stringify({ command: 'history', identifier: id('s'), history: { streams: { s: { epoch: m1.epoch, offset: 0 } } } }))
  await t.hub.publish('s', 2) // held while the backlog is read
  r.conn.expireRestoreHold(r.after + 6000) // a sweep meanwhile: the restore hold is over, this is not its to release
  await turn()
  assert.deepEqual(offsets(r.wire.messages(), 's'), [1])
  reading.resolve(undefined)
  await until(() => r.wire.messages().some((m) => m.type === 'confirm_history'), 'confirmed')
  await until(() => offsets(r.wire.messages(), 's').length === 2, 'the held message')
  assert.deepEqual(r.wire.messages().slice(1).map((m) => m.type ?? m.offset), [1, 2, 'confirm_history'], 'the backlog has 2 already: sent once, before confirm_history')
})
