import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../support/browser.js'
import { startHerald, type TestHerald } from '../support/herald.js'

let h: TestHerald
let browser: Browser
before(async () => {
  h = await startHerald({ pollFlushInterval: 0.05 })
  browser = await launchChromium() // honours HERALD_CHROMIUM (this file used /usr/bin/chromium only)
})
after(async () => {
  await browser?.close()
  await h?.close()
})

for (const [transport, label] of [['sse', 'Server-Sent Events'], ['ndjson', 'NDJSON'], ['lp', 'long polling'], ['poll', 'per-job poll']] as const) {
  test(`demo page: a job picked to run over ${label} fills its bar to succeeded`, async () => {
    const page = await browser.newPage()
    try {
      await page.goto(h.url)
      await page.fill('#steps', '4')
      await page.fill('#delay', '50')
      await page.selectOption('#transport', transport)
      await page.click('#start-button')
      const job = page.locator(`.job[data-transport="${transport}"]`).first()
      await job.locator('xpath=self::*[@data-state="succeeded"]').waitFor({ timeout: 15_000 })
      assert.equal(await job.locator('.bar').getAttribute('aria-valuenow'), '100')
    } finally {
      await page.close()
    }
  })
}
