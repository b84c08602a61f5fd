#!/usr/bin/env node
// The built client when there is one; in a fresh clone, the sources through tsx.
import { existsSync } from 'node:fs'

const built = new URL('../dist/tools/herald-client.js', import.meta.url)
if (existsSync(built)) {
  await import(built.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/tools/herald-client.ts', import.meta.url).href)
}
