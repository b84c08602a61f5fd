import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { startHerald, type TestHerald } from '../support/herald.js'
import { clientPage, launch, recorded, startClient, startJob } from './browser.js'

let h: TestHerald
let browser: Browser
before(async () => {
  h = await startHerald({ pollFlushInterval: 0.05 })
  browser = await launch()
})
after(async () => {
  await browser?.close()
  await h?.close()
})

for (const transport of ['ws', 'sse', 'ndjson', 'lp']) {
  test(`Chromium: the client follows a job to succeeded over ${transport} alone`, async () => {
    const page = await clientPage(browser, h.url)
    try {
      await startClient(page, { transports: [transport] })
      await startJob(page, 'demo', { steps: 5, delayMs: 30 })
      await page.waitForFunction(() => (window as any).t.outcome, undefined, { timeout: 20_000 })
      const r = await recorded(page)
      assert.deepEqual(r.outcome?.ok, { steps: 5, elapsedMs: (r.outcome?.ok as any)?.elapsedMs })
      // Every event once, in order, each with its position: running, five steps, succeeded.
      assert.deepEqual(r.events, ['progress 1', 'progress 2', 'progress 3', 'progress 4', 'progress 5', 'progress 6', 'succeeded 7'])
      assert.equal(r.states[0], `connecting ${transport}`)
      assert.ok(r.states.includes(`connected ${transport}`), r.states.join(', '))
    } finally {
      await page.close()
    }
  })
}
