import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { WireClient, type TestHerald } from '../support/herald.js'
import { broadcast, metric } from '../support/util.js'
import { publicId } from '../support/wire.js'

// What every hostile case ends with: the server still serves a well-behaved client. A fresh
// WebSocket is welcomed, subscribes to a public stream (the servers here run --public-streams),
// and gets a message published over HTTP; /health answers; no request failed inside (500).

export async function stillServes(h: TestHerald): Promise<void> {
  const health = await fetch(`${h.url}/health`)
  assert.equal(health.status, 200)
  await health.arrayBuffer()
  const c = await WireClient.connect(h.wsUrl)
  try {
    await c.waitForType('welcome')
    const stream = `hostile/after/${randomUUID()}`
    c.send({ command: 'subscribe', identifier: publicId(stream) })
    await c.waitForType('confirm_subscription')
    await broadcast(h.url, { stream, data: JSON.stringify({ still: 'here' }) })
    const m = await c.waitFor((msg) => msg.message?.still === 'here')
    assert.equal(m.identifier, publicId(stream))
  } finally {
    c.close()
  }
  assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_INTERNAL' }), 0, 'no handler failed inside')
}

/** herald_errors_total{code}. */
export const errors = (h: TestHerald, code: string) => metric(h.url, 'herald_errors_total', { code })
/** herald_disconnects_total{reason}. */
export const disconnects = (h: TestHerald, reason: string) => metric(h.url, 'herald_disconnects_total', { reason })
