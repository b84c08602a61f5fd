import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildClient, CLIENT_BUDGET_BYTES, sizeLine } from '../../scripts/build-client.js'

test(`the browser bundle with every transport stays within ${CLIENT_BUDGET_BYTES} bytes min+gzip`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-client-'))
  try {
    const out = join(dir, 'herald-client.js')
    const size = await buildClient(out)
    t.diagnostic(sizeLine(size))
    const code = readFileSync(out, 'utf8')
    // Every transport is in it (their wire strings survive minification).
    for (const wire of ['actioncable-v1-ext-json', '/events', '/stream', 'x-anycable-poll-id']) assert.ok(code.includes(wire), wire)
    // Self-contained: no imports left, and the package declares no runtime dependencies.
    assert.doesNotMatch(code, /\bimport\s*[{("'*]|\brequire\(/)
    const pkg = JSON.parse(readFileSync(new URL('../../packages/client/package.json', import.meta.url), 'utf8'))
    assert.equal(pkg.dependencies, undefined)
    assert.ok(size.gzipBytes <= CLIENT_BUDGET_BYTES, `${size.gzipBytes} bytes min+gzip, over the ${CLIENT_BUDGET_BYTES}-byte budget`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
