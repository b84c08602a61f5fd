import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { chromium, type Browser } from 'playwright-core'
import { observe, type HttpRequestSeen } from '../../src/observability/diagnostics.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { makeSelfSignedCert, type TestCert } from '../support/tls.js'

/** Debian's chromium; a browser is never downloaded. */
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium'

let h: TestHerald
let cert: TestCert
let browser: Browser
/** Every request the TLS listener saw: HTTP version, method, path. */
const seen: { version: string; method: string; path: string }[] = []

before(async () => {
  cert = makeSelfSignedCert()
  h = await startHerald({ tlsCert: cert.cert, tlsKey: cert.key })
  // Herald's own account of each request (the herald:http:request diagnostics channel).
  observe(h.herald.diagnostics, {
    httpRequest: (r: HttpRequestSeen) => seen.push({ version: r.httpVersion, method: r.method, path: r.path }),
  })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'],
  })
})
after(async () => {
  await browser?.close()
  await h?.close()
  cert?.remove()
})

/** Runs one demo job over `transport` and waits for its bar to reach succeeded. */
async function followJob(transport: string): Promise<{ id: string; protocols: string[] }> {
  const page = await browser.newPage()
  try {
    const problems: string[] = []
    page.on('pageerror', (err) => problems.push(err.message))
    const res = await page.goto(`${h.url}/`)
    assert.equal(res?.status(), 200)
    await page.locator('#status', { hasText: 'connected' }).waitFor({ timeout: 15_000 })
    await page.fill('#steps', '3')
    await page.fill('#delay', '50')
    if (transport !== 'ws') await page.selectOption('#transport', transport)
    await page.click('#start-button')
    const job = page.locator('.job').first()
    await page.waitForFunction((el) => el?.getAttribute('data-state') === 'succeeded', await job.elementHandle(), { timeout: 15_000 })
    assert.equal(await job.locator('.bar').getAttribute('aria-valuenow'), '100')
    const id = (await job.getAttribute('data-job'))!
    // What the browser itself says it used (Resource Timing's nextHopProtocol).
    const protocols = await page.evaluate(() => [
      ...performance.getEntriesByType('navigation'),
      ...performance.getEntriesByType('resource'),
    ].map((e) => `${(e as PerformanceResourceTiming).nextHopProtocol} ${new URL(e.name).pathname}`))
    assert.deepEqual(problems, [])
    return { id, protocols }
  } finally {
    await page.close()
  }
}

test('over TLS the demo page loads over h2 and follows a job over WebSocket (RFC 8441)', async (t) => {
  const { protocols } = await followJob('ws')
  t.diagnostic(`browser: ${protocols.join(', ')}; server: ${seen.map((r) => `${r.version} ${r.method} ${r.path}`).join(', ')}`)
  assert.ok(protocols.includes('h2 /'), `page over h2: ${protocols}`)
  assert.ok(protocols.includes('h2 /jobs'), `POST /jobs over h2: ${protocols}`)
  const page = seen.filter((r) => r.path === '/')
  assert.ok(page.length > 0 && page.every((r) => r.version === '2.0'))
  const sockets = seen.filter((r) => r.path.startsWith('/cable'))
  assert.ok(sockets.length > 0, 'the page opened a WebSocket')
  assert.ok(sockets.every((r) => r.version === '2.0' && r.method === 'CONNECT'), `WebSocket over an h2 stream: ${JSON.stringify(sockets)}`)
})

test('over TLS the demo page follows a job over Server-Sent Events on h2', async (t) => {
  const { protocols } = await followJob('sse')
  t.diagnostic(`browser: ${protocols.join(', ')}`)
  // The page's client follows all its jobs over one SSE response, POST /events (no EventSource per job).
  const events = seen.filter((r) => r.method === 'POST' && r.path.startsWith('/events'))
  assert.ok(events.length > 0, 'the page opened its SSE stream')
  assert.ok(events.every((r) => r.version === '2.0'), JSON.stringify(events))
  assert.ok(protocols.includes('h2 /'), `page over h2: ${protocols}`)
})
