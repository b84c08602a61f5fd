import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { startHerald, type TestHerald } from '../support/herald.js'
import { launch } from './browser.js'
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

const STEPS = 20
const TRANSPORTS = ['ws', 'sse', 'ndjson', 'lp', 'poll'] as const
/** What each demo card's requests look like at the proxy, to see it came back after the drop. */
const WIRE: Record<(typeof TRANSPORTS)[number], RegExp> = {
  ws: /^UPGRADE \/cable$/, sse: /^POST \/events$/, ndjson: /^POST \/stream$/, lp: /^POST \/lp$/, poll: /^GET \/jobs\/[^/]+\/poll$/,
}

/** The demo card's value (0-100) on `page`. */
const percent = async (page: Page) => Number(await page.locator('.job .bar').getAttribute('aria-valuenow'))

test('Chromium: a 5 s network drop mid-job on every transport; the demo page gets every event once, in order, and its bar reaches 100%', async (t) => {
  // One browser context (its own connection pool) per transport, all behind the proxy that drops.
  const pages = new Map<(typeof TRANSPORTS)[number], Page>()
  try {
    for (const transport of TRANSPORTS) {
      const page = await (await browser.newContext()).newPage()
      pages.set(transport, page)
      await page.goto(`${proxy.url}/`)
      await page.fill('#steps', String(STEPS))
      await page.fill('#delay', '500')
      await page.selectOption('#transport', transport)
    }
    // Started together, so every job is still running when the network drops.
    for (const [transport, page] of pages) {
      await page.click('#start-button')
      await page.locator(`.job[data-transport="${transport}"]`).waitFor({ timeout: 15_000 })
    }
    // Mid-job everywhere: some steps shown, not the last.
    for (const [transport, page] of pages) {
      await page.waitForFunction(() => Number(document.querySelector('.job .bar')?.getAttribute('aria-valuenow')) >= 10, undefined, { timeout: 15_000 })
      assert.ok((await percent(page)) < 100, `${transport} is mid-job`)
    }
    proxy.cut()
    t.diagnostic('network down for 5 s')
    await sleep(5000)
    const before = proxy.seen.length
    proxy.restore()

    for (const [transport, page] of pages) {
      const card = page.locator('.job').first()
      await page.waitForFunction(() => document.querySelector('.job')?.getAttribute('data-state') === 'succeeded', undefined, { timeout: 30_000 })
      assert.equal(await percent(page), 100, transport)
      const log = (await card.locator('.log').textContent()) ?? ''
      const lines = log.split('\n').filter((l) => /^#\S+ /.test(l))
      // Every step once and in order (the running event, STEPS steps, the outcome).
      const steps = lines.map((l) => / progress .*step (\d+) of/.exec(l)?.[1]).filter(Boolean).map(Number)
      assert.deepEqual(steps, Array.from({ length: STEPS }, (_, i) => i + 1), `${transport}:\n${log}`)
      assert.match(lines.at(-1)!, /succeeded 100%/, `${transport}:\n${log}`)
      if (transport !== 'poll') {
        // The library's cards also log each event's offset: 1..STEPS+2, none twice, none missing.
        const offsets = lines.map((l) => Number(/^#(\d+)/.exec(l)?.[1]))
        assert.deepEqual(offsets, Array.from({ length: STEPS + 2 }, (_, i) => i + 1), `${transport}:\n${log}`)
      }
      assert.ok(proxy.seen.slice(before).some((s) => WIRE[transport].test(s)), `${transport} reconnected after the drop`)
    }
  } finally {
    for (const page of pages.values()) await page.context().close()
  }
})
