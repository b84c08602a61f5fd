import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { startHerald, type TestHerald } from '../support/herald.js'
import { launch } from './browser.js'

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

const JOBS = 10

test('Chromium over HTTP/1.1: ten jobs on SSE all progress at once over one shared SSE response (not six EventSources and a queue)', async (t) => {
  const t0 = Date.now()
  const step = (what: string) => t.diagnostic(`${what} after ${Date.now() - t0} ms`)
  // The server's open SSE sessions, sampled throughout: one carries the page's jobs; a second
  // exists only while the set is being handed over to a reopened response.
  const sse = () => h.herald.stats().connections.byTransport.sse ?? 0
  let most = 0
  const sampler = setInterval(() => (most = Math.max(most, sse())), 5)
  const page = await browser.newPage()
  try {
    await page.goto(`${h.url}/`)
    await page.fill('#steps', '30')
    await page.fill('#delay', '200')
    await page.selectOption('#transport', 'sse')
    step('page ready')
    for (let i = 0; i < JOBS; i++) await page.click('#start-button')
    step('clicked')
    await page.waitForFunction((n) => document.querySelectorAll('.job').length === n, JOBS, { timeout: 15_000 })
    step('ten cards')
    // All ten under way together: each has moved, none has finished.
    await page.waitForFunction((n) => {
      const values = Array.from(document.querySelectorAll('.job .bar')).map((b) => Number(b.getAttribute('aria-valuenow')))
      return values.length === n && values.every((v) => v > 0 && v < 100)
    }, JOBS, { timeout: 15_000 })
    step('all ten moving')
    await page.waitForFunction((n) => document.querySelectorAll('.job[data-state="succeeded"] .bar[aria-valuenow="100"]').length === n, JOBS, { timeout: 30_000 })
    step('all ten done')
    const vias = await page.locator('.job').evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.via))
    assert.deepEqual(vias, Array(JOBS).fill('sse'))
    assert.ok(most >= 1 && most <= 2, `at most two SSE responses open at once (a handover), saw ${most}`)
  } finally {
    clearInterval(sampler)
    await page.close()
  }
})
