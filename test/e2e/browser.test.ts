import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { chromium, type Browser } from 'playwright-core'
import { startHerald, type TestHerald } from '../support/herald.js'

/** Debian's chromium (CI installs it); a browser is never downloaded. */
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium'

let h: TestHerald
let browser: Browser
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; npm test does) or set HERALD_CHROMIUM`)
  h = await startHerald()
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
})
after(async () => {
  await browser?.close()
  await h?.close()
})

test('the demo page starts jobs and shows their progress live over WebSocket', async () => {
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  // Every response, the favicon included (the page carries its own icon, so none is asked for).
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`) })
  const res = await page.goto(`${h.url}/`)
  assert.equal(res?.status(), 200)
  // The page's icon is served (browsers ask for one on every load).
  const icon = await page.evaluate(async () => {
    const res = await fetch((document.querySelector('link[rel="icon"]') as HTMLLinkElement).href)
    return [res.status, res.headers.get('content-type')]
  })
  assert.deepEqual(icon, [200, 'image/svg+xml'])
  await page.locator('#status', { hasText: 'connected' }).waitFor({ timeout: 15_000 })

  await page.fill('#steps', '4')
  await page.fill('#delay', '30')
  await page.click('#start-button')
  await page.fill('#steps', '6')
  await page.click('#start-button')

  const jobs = page.locator('.job')
  await jobs.nth(1).waitFor({ timeout: 15_000 })
  assert.equal(await jobs.count(), 2, 'two jobs shown at once')
  for (const i of [0, 1]) {
    const job = jobs.nth(i)
    await job.locator('.bar[aria-valuenow="100"]').waitFor({ timeout: 15_000 })
    await page.waitForFunction((el) => el?.getAttribute('data-state') === 'succeeded', await job.elementHandle(), { timeout: 15_000 })
    assert.equal(await job.locator('.percent').textContent(), '100%')
  }
  // The newest job is on top; each one's own log shows its steps.
  const ids = await jobs.evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.job))
  assert.equal(new Set(ids).size, 2)
  for (const id of ids) {
    const snap = await (await fetch(`${h.url}/jobs/${id}`)).json()
    assert.equal(snap.state, 'succeeded')
  }
  assert.match(await jobs.nth(0).locator('.log').textContent() ?? '', /step 6 of 6/)
  assert.match(await jobs.nth(1).locator('.log').textContent() ?? '', /step 4 of 4/)
  assert.deepEqual(problems, [])
  await page.close()
})

test('the demo page follows --path for its WebSocket', async () => {
  const other = await startHerald({ path: '/live/ws' })
  try {
    const page = await browser.newPage()
    await page.goto(`${other.url}/`)
    await page.locator('#status', { hasText: 'connected' }).waitFor({ timeout: 15_000 })
    await page.fill('#steps', '2')
    await page.fill('#delay', '1')
    await page.click('#start-button')
    await page.locator('.job[data-state="succeeded"] .bar[aria-valuenow="100"]').waitFor({ timeout: 15_000 })
    await page.close()
  } finally {
    await other.close()
  }
})
