import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { configurationMarkdown } from '../../src/config/docs.js'

test('docs/configuration.md is what the schema generates (run `npm run docs:config` after changing options)', () => {
  const onDisk = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
  assert.equal(onDisk, configurationMarkdown())
})
