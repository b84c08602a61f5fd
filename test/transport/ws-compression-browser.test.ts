import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { observe, type HttpRequestSeen } from '../../src/observability/diagnostics.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { launchChromium } from '../support/browser.js'
import { alone, DeflateClient } from '../support/deflate-client.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { makeSelfSignedCert, type TestCert } from '../support/tls.js'
import { until } from '../support/util.js'

let h: TestHerald
let tls: TestHerald
let cert: TestCert
let browser: Browser
before(async () => {
  h = await startHerald({ publicStreams: true, wsCompression: true })
  cert = makeSelfSignedCert()
  tls = await startHerald({ publicStreams: true, wsCompression: true, tlsCert: cert.cert, tlsKey: cert.key })
  browser = await launchChromium(['--ignore-certificate-errors'])
})
after(async () => {
  await browser?.close()
  await h?.close()
  await tls?.close()
  cert?.remove()
})

/** In the page: a native WebSocket subscribes to `identifier`; resolves with its negotiated extensions once confirmed. */
function subscribeInPage({ url, identifier }: { url: string; identifier: string }): Promise<string> {
  return new Promise<string>((resolve, reject) => {
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
  })
}

test('Chromium\'s native WebSocket negotiates permessage-deflate with Herald and reads the compressed broadcasts, each after the first compressed against the one before', async () => {
  const page = await browser.newPage()
  await page.goto(`${h.url}/`)
  const stream = 'deflate-browser'
  const identifier = publicIdentifier(stream)
  const extensions = await page.evaluate(subscribeInPage, { url: h.wsUrl, identifier })
  // Chromium offers `permessage-deflate; client_max_window_bits` and keeps its window across
  // messages: Herald compresses each broadcast against the one before it on the stream.
  assert.equal(extensions, 'permessage-deflate')
  // A raw client with Chromium's offer, in the same state as the page (subscribed, nothing
  // compressed yet): every frame it gets is the very frame the page gets (one per broadcast).
  const raw = await DeflateClient.open(h.wsUrl, 'permessage-deflate; client_max_window_bits')
  await raw.subscribe(identifier)
  const sent = Array.from({ length: 5 }, (_, n) => ({ step: n + 1, of: 5, message: `processing item ${n + 1} of 5`, detail: 'x'.repeat(200) }))
  for (const m of sent) await h.herald.hub.publish(stream, m)
  await until(() => page.evaluate(() => (window as any).got.length === 5), 'five messages in the page')
  assert.deepEqual(await page.evaluate(() => (window as any).got), sent)
  await until(() => raw.messages().filter((m) => m.message).length === 5, 'five messages on the raw client')
  const frames = raw.frames.filter((f) => f.opcode === 1 && JSON.parse(f.text).message)
  assert.ok(frames.every((f) => f.rsv1))
  for (const f of frames.slice(1)) assert.throws(() => alone(f), /invalid distance/, 'compressed against the message before it')
  raw.socket.destroy()
  await page.close()
})

test('over TLS Chromium opens its WebSocket on the page\'s h2 connection (RFC 8441) with permessage-deflate and reads the compressed broadcasts', async () => {
  const seen: { version: string; method: string; path: string }[] = []
  const stop = observe(tls.herald.diagnostics, {
    httpRequest: (r: HttpRequestSeen) => seen.push({ version: r.httpVersion, method: r.method, path: r.path }),
  })
  const page = await browser.newPage()
  try {
    await page.goto(`${tls.url}/`)
    const stream = 'deflate-browser-h2'
    const extensions = await page.evaluate(subscribeInPage, { url: `${tls.url.replace(/^https/, 'wss')}/cable`, identifier: publicIdentifier(stream) })
    assert.equal(extensions, 'permessage-deflate')
    const sockets = seen.filter((r) => r.path.startsWith('/cable'))
    assert.ok(sockets.length > 0 && sockets.every((r) => r.version === '2.0' && r.method === 'CONNECT'), `an h2 extended CONNECT: ${JSON.stringify(sockets)}`)
    const sent = Array.from({ length: 3 }, (_, n) => ({ step: n + 1, detail: 'y'.repeat(300) }))
    for (const m of sent) await tls.herald.hub.publish(stream, m)
    await until(() => page.evaluate(() => (window as any).got.length === 3), 'three messages in the page')
    assert.deepEqual(await page.evaluate(() => (window as any).got), sent)
  } finally {
    stop()
    await page.close()
  }
})
