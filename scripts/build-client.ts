// `npm run client:build` (part of `npm run build` and `npm test`): packages/client as one minified
// ES module, the file Herald serves at GET /herald-client.js. `npm run client:size` also prints its
// size next to the published sizes of the peers' clients.
import { renameSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = new URL('..', import.meta.url).pathname
export const CLIENT_ENTRY = `${root}packages/client/src/index.ts`
export const CLIENT_BUNDLE = `${root}packages/client/dist/herald-client.js`

/** The browser bundle's budget, every transport included (issue #12): smaller than each peer's client. */
export const CLIENT_BUDGET_BYTES = 6 * 1024

/** min+gzip sizes of the peers' browser clients as published (bundlephobia), in KB. */
export const PEER_SIZES_KB = { '@anycable/web': 9.7, 'socket.io-client': 13.5, centrifuge: 19.6 }

export interface BundleSize {
  bytes: number
  gzipBytes: number
}

/** Builds the bundle into `outfile` (written whole, then renamed, so parallel builds never serve half a file). */
export async function buildClient(outfile = CLIENT_BUNDLE): Promise<BundleSize> {
  const result = await build({
    entryPoints: [CLIENT_ENTRY], bundle: true, format: 'esm', minify: true, target: 'es2020', write: false, logLevel: 'warning',
  })
  const code = result.outputFiles[0].contents
  mkdirSync(dirname(outfile), { recursive: true })
  const tmp = `${outfile}.${process.pid}.tmp`
  writeFileSync(tmp, code)
  renameSync(tmp, outfile)
  return { bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length }
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1)

/** One line: Herald's client against the peers, min+gzip. */
export function sizeLine(size: BundleSize): string {
  const peers = Object.entries(PEER_SIZES_KB).map(([name, size]) => `${name} ${size} KB`).join(', ')
  return `client bundle (every transport), min+gzip: @herald/client ${kb(size.gzipBytes)} KB (budget ${kb(CLIENT_BUDGET_BYTES)} KB); peers: ${peers}`
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const size = await buildClient()
  if (process.argv.includes('--size')) process.stdout.write(`${sizeLine(size)}\n`)
}
