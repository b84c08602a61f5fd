import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { Disconnects } from '../../src/disconnect.js'
import { FakeWire } from '../support/fake-wire.js'
import { testCore, type TestCore } from '../support/core.js'
import { until } from '../support/util.js'

// The sweep of the node's clients (src/core/clients.ts) when checking one connection throws (a
// bug in a transport's wire, played here by a wire whose `info` fails once connected): that
// connection ends with internal_error and is reported; the sweep goes on for the others.

const cores: TestCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })

class BrokenWire extends FakeWire {
  broken = false
  constructor() {
    super()
    const info = this.info
    Object.defineProperty(this, 'info', {
      get: () => (this.broken ? { ...info, get bidirectional(): boolean { throw new Error('wire info lost') } } : info),
    })
  }
}

test('a connection whose sweep check throws is ended with internal_error and reported; the others are still swept', async () => {
  const t = testCore({ inactivityTimeoutMs: 400 })
  cores.push(t)
  t.core.start()
  const bad = new BrokenWire()
  const badConn = t.core.accept(bad, { url: new URL('http://test/cable'), headers: {}, remoteAddress: '127.0.0.1' })
  const good = t.connect()
  bad.broken = true
  await until(() => bad.closedWith, 'the broken connection ended', 2000)
  assert.equal(bad.closedWith, Disconnects.internal)
  assert.equal(badConn.isOpen, false)
  assert.notEqual(good.wire.closedWith, Disconnects.internal)
  // The sweep still ends the silent one as idle.
  await until(() => good.wire.closedWith, 'the silent connection ended', 3000)
  assert.equal(good.wire.closedWith, Disconnects.idle)
})
