import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { chromium, type Browser } from 'playwright-core'
import { startHerald, type TestHerald } from '../support/herald.js'

let h: TestHerald
let browser: Browser
before(async () => {
  h = await startHerald({ pollFlushInterval: 0.05 })
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
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
