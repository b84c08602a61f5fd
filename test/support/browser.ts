import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Debian's chromium, or HERALD_CHROMIUM; a browser is never downloaded. */
export const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium'

/** Headless Chromium with the suite's launch flags (those of test/e2e/browser.test.ts). */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; npm test does) or set HERALD_CHROMIUM`)
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...extraArgs],
  })
}
