import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { startHerald, type TestHerald } from '../support/herald.js'
import { clientPage, connectedOn, launch, recorded, startClient, startJob } from './browser.js'

let h: TestHerald
let browser: Browser
before(async () => {
  h = await startHerald()
  browser = await launch()
})
after(async () => {
  await browser?.close()
  await h?.close()
})

test("Chromium: the client drops its wire on the browser's offline event and reconnects on online, not at the end of its backoff", async () => {
  const page = await clientPage(browser, h.url)
  const cdp = await page.context().newCDPSession(page)
  const network = (offline: boolean) => cdp.send('Network.emulateNetworkConditions', { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  try {
    await cdp.send('Network.enable')
    // A minute's backoff: within the test's deadlines only the online event can bring it back.
    await startClient(page, { transports: ['sse'], backoff: [60_000, 60_000] })
    await startJob(page, 'demo', { steps: 20, delayMs: 100 })
    await connectedOn(page, 'sse')
    await page.waitForFunction(() => (window as any).t.events.length >= 3, undefined, { timeout: 15_000 })
    await network(true)
    await page.waitForFunction(() => (window as any).t.client.reason === 'offline', undefined, { timeout: 15_000 })
    await network(false)
    await page.waitForFunction(() => (window as any).t.outcome, undefined, { timeout: 20_000 })
    const r = await recorded(page)
    assert.deepEqual(r.events, [...Array.from({ length: 21 }, (_, i) => `progress ${i + 1}`), 'succeeded 22'], r.states.join('\n'))
    const offline = r.states.indexOf('disconnected - (offline)')
    assert.ok(offline > 0 && r.states.slice(offline).includes('connected sse'), r.states.join('\n'))
  } finally {
    await network(false).catch(() => {})
    await page.close()
  }
})
