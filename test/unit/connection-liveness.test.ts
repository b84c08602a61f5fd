import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { Disconnects } from '../../src/disconnect.js'
import { FakeWire } from '../support/fake-wire.js'
import { scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until } from '../support/util.js'

// The transport's own liveness probe (a WebSocket ping frame) and its answer (a pong), with the
// node's real timers: slower than the other connection tests, so listed after them for Stryker.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }

test('a transport\'s liveness answer (a WebSocket pong) keeps a silent client from being idle', async () => {
  // Heard every 20 ms against a 1 s inactivity limit; it lives to its 1.5 s lifetime.
  const t = setup({ inactivityTimeoutMs: 1000, maxLifetimeMs: 1500 })
  t.core.start()
  const { wire, conn } = t.connect()
  const pongs = setInterval(() => conn.heard(), 20)
  try {
    await until(() => wire.closedWith, 'closed')
  } finally {
    clearInterval(pongs)
  }
  assert.equal(wire.closedWith, Disconnects.lifetime)
})

class ProbingWire extends FakeWire {
  probes = 0
  probe(): void { this.probes++ }
}

test('with --inactivity-timeout each ping also sends the wire\'s own probe; without it, none', async () => {
  for (const [inactivityTimeoutMs, probes] of [[60_000, true], [0, false]] as const) {
    const t = setup({ pingIntervalMs: 20, inactivityTimeoutMs })
    t.core.start()
    const wire = new ProbingWire()
    t.core.accept(wire, t.request())
    const plain = t.connect() // a wire without a probe of its own (SSE, long polling) gets pings alone
    const pings = (w: FakeWire) => w.messages().filter((m) => m.type === 'ping').length
    await until(() => pings(wire) >= 2 && pings(plain.wire) >= 2, 'two pings on each')
    assert.equal(plain.wire.closedWith, undefined)
    if (probes) assert.ok(wire.probes >= 1, `probed: ${wire.probes}`)
    else assert.equal(wire.probes, 0)
  }
})
