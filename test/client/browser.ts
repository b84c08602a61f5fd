import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Debian's chromium (npm test installs it); a browser is never downloaded. */
export const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium'

export async function launch(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; npm test does) or set HERALD_CHROMIUM`)
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
}

/**
 * A page on `base` (its plain /health page) with Herald's client loaded from /herald-client.js
 * into `window.herald`, and `window.t` to keep what a test records in the page.
 */
export async function clientPage(browser: Browser, base: string): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(`${base}/health`)
  await page.evaluate(async () => {
    const url = '/herald-client.js'
    ;(window as any).herald = await import(url)
    ;(window as any).t = { events: [], states: [] }
  })
  return page
}

/**
 * In the page: a client with `options` (JSON) in `t.client`, its states in `t.states`
 * ("state transport (reason)"), and, once `follow` has run, the job's events in `t.events`
 * ("type offset") and its outcome in `t.outcome`.
 */
export async function startClient(page: Page, options: Record<string, unknown>): Promise<void> {
  await page.evaluate((options) => {
    const w = window as any
    const client = (w.t.client = w.herald.createClient(options))
    client.on('state', (s: string, via?: string, why?: string) => w.t.states.push(`${s} ${via ?? '-'}${why ? ` (${why})` : ''}`))
  }, options)
}

/** In the page: starts a job of `type` with `input` on `t.client`; resolves with its id. */
export function startJob(page: Page, type: string, input?: unknown): Promise<string> {
  return page.evaluate(async ({ type, input }) => {
    const t = (window as any).t
    const job = (t.job = await t.client.startJob(type, input))
    job.on('event', (e: any, p: any) => t.events.push(`${e.type} ${p?.offset}`))
    job.result.then((r: unknown) => (t.outcome = { ok: r }), (e: any) => (t.outcome = { error: e.message }))
    return job.id as string
  }, { type, input })
}

/** Waits (with a deadline) until `t.client` is connected over `transport`. */
export async function connectedOn(page: Page, transport: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction((transport) => {
    const c = (window as any).t.client
    return c.state === 'connected' && c.transport === transport
  }, transport, { timeout })
}

/** What the page recorded. */
export function recorded(page: Page): Promise<{ events: string[]; states: string[]; outcome?: { ok?: unknown; error?: string }; reason?: string }> {
  return page.evaluate(() => {
    const t = (window as any).t
    return { events: t.events, states: t.states, outcome: t.outcome, reason: t.client?.reason }
  })
}
