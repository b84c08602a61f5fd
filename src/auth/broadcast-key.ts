import { timingSafeEqual } from 'node:crypto'
import { HeraldError } from '../errors.js'

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/

/**
 * Content types a browser may send cross-site without a CORS preflight (the Fetch standard's
 * "CORS-safelisted" ones): a page can make a visitor's browser send these to 127.0.0.1.
 */
const SIMPLE_CONTENT_TYPES = /^\s*(text\/plain|application\/x-www-form-urlencoded|multipart\/form-data)\b/i

type Headers = Readonly<Record<string, string | string[] | undefined>>

/**
 * Why a loopback request is really a browser's, or undefined. A web page open in a browser on
 * the same machine is a loopback client too; it gives itself away by the Origin and Sec-Fetch-Site
 * headers every current browser sends with a POST, or by a content type it can send without a
 * preflight.
 */
function browserSign(headers: Headers): string | undefined {
  if (headers.origin !== undefined) return 'it carries an Origin header'
  // Browsers send Sec-Fetch-Site with every request; Node's fetch sends only Sec-Fetch-Mode.
  if (headers['sec-fetch-site'] !== undefined) return 'it carries a Sec-Fetch-Site header'
  const type = headers['content-type']
  if (type === undefined) return 'it has no Content-Type (send application/json)'
  if (SIMPLE_CONTENT_TYPES.test(String(type))) return `its Content-Type ${String(type)} is one a web page can send (send application/json)`
  return undefined
}

/**
 * Guards the publish and worker APIs (`POST /_broadcast`, `POST /jobs/:id/progress`). With a
 * key, `Authorization: Bearer <key>` is required. With none, only loopback clients may publish,
 * so `npm start` works locally without exposing publishing, and never a browser's request, even
 * from a page on the same machine.
 */
export function checkBroadcastKey(key: string, headers: Headers, remoteAddress: string | undefined): void {
  if (!key) {
    if (!remoteAddress || !LOOPBACK.test(remoteAddress)) {
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'no broadcast key is configured, so only loopback clients may publish')
    }
    const sign = browserSign(headers)
    if (sign !== undefined) {
      throw new HeraldError('HERALD_ERR_UNAUTHORIZED', `no broadcast key is configured, and this request may come from a web page: ${sign}`)
    }
    return
  }
  const authorization = headers.authorization
  const match = /^Bearer\s+(.+)$/i.exec(typeof authorization === 'string' ? authorization : '')
  const given = Buffer.from(match?.[1]?.trim() ?? '', 'utf8')
  const expected = Buffer.from(key, 'utf8')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'expected Authorization: Bearer <broadcast key>')
  }
}
