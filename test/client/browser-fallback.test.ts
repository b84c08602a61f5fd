import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { startHerald, type TestHerald } from '../support/herald.js'
import { postJson } from '../support/util.js'
import { clientPage, connectedOn, launch, recorded, startClient, startJob } from './browser.js'
import { TestProxy } from './proxy.js'

let h: TestHerald
let proxy: TestProxy
let browser: Browser
before(async () => {
  h = await startHerald({ pollFlushInterval: 0.05 })
  proxy = await TestProxy.start(h.url)
  browser = await launch()
})
after(async () => {
  await browser?.close()
  await proxy?.close()
  await h?.close()
})

/** Reports for the `external` job, as an outside worker does. */
async function report(id: string, body: Record<string, unknown>): Promise<void> {
  const res = await postJson(`${h.url}/jobs/${id}/progress`, body)
  assert.equal(res.status, 200, JSON.stringify(res.body))
}

const eventCount = (page: Page, n: number) =>
  page.waitForFunction((n) => (window as any).t.events.length >= n, n, { timeout: 20_000 })

test('Chromium: WebSocket refused → SSE; SSE and NDJSON refused too → long polling; the job goes on; WebSocket back → the client moves up', async () => {
  proxy.refuseUpgrades = true
  const page = await clientPage(browser, proxy.url)
  try {
    await startClient(page, { upgradeAfter: 300, backoff: [50, 500] })
    const id = await startJob(page, 'external')
    await connectedOn(page, 'sse')
    assert.equal((await recorded(page)).reason, 'ws: could not open')
    await report(id, { progress: 0.1 })
    await report(id, { progress: 0.2 })
    await eventCount(page, 2)

    // SSE and NDJSON refused as well, and the SSE response in use cut.
    proxy.refuse = /^\/(events|stream)$/
    proxy.cut()
    proxy.restore()
    await report(id, { progress: 0.3 })
    await connectedOn(page, 'lp')
    assert.match((await recorded(page)).reason ?? '', /sse: HTTP 503; ndjson: HTTP 503/)
    await report(id, { progress: 0.4 })
    await eventCount(page, 4)

    // The proxy passes everything again: a probe finds the WebSocket and takes over from long polling.
    proxy.refuseUpgrades = false
    proxy.refuse = undefined
    await connectedOn(page, 'ws')
    await report(id, { progress: 0.5 })
    await report(id, { state: 'succeeded', result: { ok: 1 } })
    await page.waitForFunction(() => (window as any).t.outcome, undefined, { timeout: 20_000 })
    const r = await recorded(page)
    assert.deepEqual(r.outcome, { ok: { ok: 1 } })
    assert.equal(r.reason, undefined)
    assert.deepEqual(r.events, ['progress 1', 'progress 2', 'progress 3', 'progress 4', 'progress 5', 'succeeded 6'], r.states.join('\n'))
    // It went down the list and back up.
    const connected = r.states.filter((s) => s.startsWith('connected')).map((s) => s.split(' ')[1])
    assert.deepEqual([...new Set(connected)], ['sse', 'lp', 'ws'], r.states.join('\n'))
  } finally {
    await page.close()
    proxy.refuseUpgrades = false
    proxy.refuse = undefined
  }
})
