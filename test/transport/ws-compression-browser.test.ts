import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { launchChromium } from '../support/browser.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { until } from '../support/util.js'

let h: TestHerald
let browser: Browser
before(async () => {
  h = await startHerald({ publicStreams: true, wsCompression: true })
  browser = await launchChromium()
})
after(async () => {
  await browser?.close()
  await h?.close()
})

test('Chromium\'s native WebSocket negotiates permessage-deflate with Herald and reads the compressed broadcasts', async () => {
  const page = await browser.newPage()
  await page.goto(`${h.url}/`)
  const stream = 'deflate-browser'
  const identifier = publicIdentifier(stream)
  const extensions = await page.evaluate(({ url, identifier }) => new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(url, 'actioncable-v1-ext-json')
    const got: unknown[] = []
    ;(window as any).got = got
    ws.onerror = () => reject(new Error('websocket error'))
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data as string)
      if (m.type === 'welcome') ws.send(JSON.stringify({ command: 'subscribe', identifier }))
      if (m.type === 'confirm_subscription') resolve(ws.extensions)
      if (m.message) got.push(m.message)
    }
  }), { url: h.wsUrl, identifier })
  // Chromium offers `permessage-deflate; client_max_window_bits`; Herald's answer adds server_no_context_takeover.
  assert.equal(extensions, 'permessage-deflate; server_no_context_takeover')
  const sent = Array.from({ length: 5 }, (_, n) => ({ step: n + 1, of: 5, message: `processing item ${n + 1} of 5`, detail: 'x'.repeat(200) }))
  for (const m of sent) await h.herald.hub.publish(stream, m)
  await until(() => page.evaluate(() => (window as any).got.length === 5), 'five messages in the page')
  assert.deepEqual(await page.evaluate(() => (window as any).got), sent)
  await page.close()
})
