import { readFileSync } from 'node:fs'
import { HeraldError } from '../errors.js'
import type { Router } from '../http/router.js'

/** Where `npm run build` (scripts/build-client.ts) puts Herald's browser client, from src/ or dist/ alike. */
const CLIENT_BUNDLE = new URL('../../packages/client/dist/herald-client.js', import.meta.url)

/**
 * `GET /herald-client.js`: Herald's client library as one ES module (the demo page imports it).
 * Read per request so a rebuild shows at once; a 404 says how to build it. Public code, so any
 * origin may import it.
 */
export function addClientBundleRoute(router: Router): void {
  router.add('GET', '/herald-client.js', (_req, res) => {
    let code: Buffer
    try {
      code = readFileSync(CLIENT_BUNDLE)
    } catch {
      throw new HeraldError('HERALD_ERR_NOT_FOUND', '/herald-client.js is not built yet: npm run build (or npm run client:build)')
    }
    res.writeHead(200, {
      'content-type': 'text/javascript; charset=utf-8',
      'content-length': String(code.length),
      'cache-control': 'no-cache',
      'access-control-allow-origin': '*',
    })
    res.end(code)
  })
}
