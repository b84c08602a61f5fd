// Writes docs/configuration.md from the config schema (the single source of options).
// Run: npm run docs:config. test/docs.test.ts fails when the file is stale.
import { writeFileSync } from 'node:fs'
import { configurationMarkdown } from '../src/config/docs.js'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationMarkdown())
