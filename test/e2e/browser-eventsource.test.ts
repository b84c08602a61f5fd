import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../support/browser.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { TcpRelay } from '../support/relay.js'
import { broadcast, until } from '../support/util.js'

// README, SSE: "Last-Event-ID resumes right after it (so EventSource resumes by itself)". Here a
// real Chromium EventSource, the network under it cut by a relay: the browser reconnects on its
// own, sends Last-Event-ID, and the page has every message once, in order.

let h: TestHerald
let browser: Browser
before(async () => {
  h = await startHerald({ publicStreams: true })
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
  await h?.close()
})

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const publish = (stream: string, from: number, to: number) => broadcast(h.url, range(from, to).map((i) => ({ stream, data: JSON.stringify({ i }) })))

test('a Chromium EventSource whose connection is cut reconnects with Last-Event-ID and misses nothing, repeats nothing', async () => {
  const stream = 'browser/eventsource'
  const relay = await TcpRelay.to(h.url)
  const page = await browser.newPage()
  try {
    // Same origin as /events (through the relay), so no CORS is involved.
    await page.goto(`${relay.url}/health`)
    await page.evaluate((path) => {
      const w = window as any
      w.got = []
      w.opens = 0
      w.errors = 0
      const es = new EventSource(path)
      es.onopen = () => w.opens++
      es.onerror = () => w.errors++
      es.onmessage = (e) => w.got.push({ i: JSON.parse(e.data).i, id: e.lastEventId })
    }, `/events?stream=${encodeURIComponent(stream)}`)
    const got = () => page.evaluate(() => (window as any).got as { i: number; id: string }[])
    const count = (n: number) => page.waitForFunction((want) => (window as any).got.length >= want, n, { timeout: 15_000 })

    await until(() => h.herald.subscriberCount(stream) === 1, 'the EventSource subscribed')
    await publish(stream, 1, 5)
    await count(5)
    const lastId = (await got()).at(-1)!.id

    relay.cut() // the network fails under the open response
    await until(() => h.herald.subscriberCount(stream) === 0, 'the server saw the drop')
    await publish(stream, 6, 10) // while the browser is away
    // Chromium waits its reconnection time (3 s by default), then asks again on its own.
    await until(() => h.herald.subscriberCount(stream) === 1, 'the EventSource came back', 15_000)
    await count(10)
    await publish(stream, 11, 12) // live again
    await count(12)

    const list = await got()
    assert.deepEqual(list.map((m) => m.i), range(1, 12), 'every message once, in order')
    assert.deepEqual(list.map((m) => Number(m.id.split('/')[0])), range(1, 12), 'ids carry the offsets')
    assert.deepEqual(await page.evaluate(() => [(window as any).opens, (window as any).errors]), [2, 1], 'one drop, one reconnect')
    const requests = relay.sent.join('').split('\r\n\r\n').filter((head) => head.startsWith('GET /events?'))
    assert.equal(requests.length, 2, 'the first request and the reconnect')
    assert.doesNotMatch(requests[0], /last-event-id/i)
    assert.match(requests[1], new RegExp(`\\r\\nlast-event-id: ${lastId.replace(/[/]/g, '\\/')}(\\r\\n|$)`, 'i'))
  } finally {
    await page.close()
    relay.close()
  }
})
