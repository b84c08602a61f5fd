import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Disconnects } from '../src/disconnect.js'
import { ERRORS } from '../src/errors.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8')

/** The rows of the first table under `## heading`, as arrays of trimmed cells (header and rule skipped). */
function table(heading: string): string[][] {
  const start = doc.indexOf(`\n## ${heading}\n`)
  assert.ok(start >= 0, `docs/errors.md has a "## ${heading}" section`)
  const end = doc.indexOf('\n## ', start + 1)
  const lines = doc.slice(start, end < 0 ? undefined : end).split('\n').filter((l) => l.startsWith('|'))
  return lines.slice(2).map((l) => l.slice(1, -1).split(' | ').map((c) => c.trim()))
}
const unquote = (cell: string) => cell.replace(/^`(.*)`$/, '$1')
const optionalNumber = (cell: string) => (cell === '—' ? undefined : Number(cell))

test('docs/errors.md lists every error code of src/errors.ts with its status and close code, and no other', () => {
  const rows = table('Error codes')
  const documented = new Map(rows.map((r) => [unquote(r[0]), r]))
  assert.equal(documented.size, rows.length, 'no code is listed twice')
  const missing = Object.keys(ERRORS).filter((code) => !documented.has(code))
  assert.deepEqual(missing, [], 'codes in src/errors.ts without a row in docs/errors.md')
  const unknown = [...documented.keys()].filter((code) => !(code in ERRORS))
  assert.deepEqual(unknown, [], 'codes in docs/errors.md that src/errors.ts does not define')
  for (const [code, entry] of Object.entries(ERRORS)) {
    const [, status, closeCode, meaning] = documented.get(code)!
    assert.equal(Number(status), entry.status, `${code}: HTTP status`)
    assert.equal(optionalNumber(closeCode), 'closeCode' in entry ? entry.closeCode : undefined, `${code}: close code`)
    assert.ok(meaning && meaning.length > 10, `${code}: a meaning`)
  }
})

test('docs/errors.md lists every disconnect reason of src/disconnect.ts with its verdict and codes, and no other', () => {
  const rows = table('Disconnect reasons')
  const documented = new Map(rows.map((r) => [unquote(r[0]), r]))
  assert.equal(documented.size, rows.length, 'no reason is listed twice')
  const reasons = Object.values(Disconnects)
  const missing = reasons.filter((d) => !documented.has(d.reason)).map((d) => d.reason)
  assert.deepEqual(missing, [], 'reasons in src/disconnect.ts without a row in docs/errors.md')
  const unknown = [...documented.keys()].filter((r) => !reasons.some((d) => d.reason === r))
  assert.deepEqual(unknown, [], 'reasons in docs/errors.md that src/disconnect.ts does not define')
  for (const d of reasons) {
    const [, reconnect, closeCode, httpStatus, when] = documented.get(d.reason)!
    assert.equal(reconnect, d.reconnect ? 'yes' : 'no', `${d.reason}: reconnect`)
    assert.equal(Number(closeCode), d.closeCode, `${d.reason}: close code`)
    assert.equal(Number(httpStatus), d.httpStatus, `${d.reason}: HTTP status`)
    assert.ok(when && when.length > 10, `${d.reason}: when`)
  }
})

test('disconnect reasons fit a WebSocket close frame and are unique', () => {
  const reasons = Object.values(Disconnects).map((d) => d.reason)
  assert.equal(new Set(reasons).size, reasons.length)
  for (const r of reasons) assert.ok(Buffer.byteLength(r) <= 123, r)
})

test('every HERALD_ERR_* code used in src/ is documented', () => {
  const used = new Set<string>()
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.ts$/.test(e.name)) for (const m of readFileSync(p, 'utf8').matchAll(/HERALD_ERR_[A-Z0-9_]+/g)) used.add(m[0])
    }
  }
  walk(join(root, 'src'))
  assert.ok(used.size > 0)
  const undocumented = [...used].filter((code) => !doc.includes(`\`${code}\``))
  assert.deepEqual(undocumented, [], 'codes used in src/ but missing from docs/errors.md')
})
