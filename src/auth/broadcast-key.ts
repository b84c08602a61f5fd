import { timingSafeEqual } from 'node:crypto'
import { HeraldError } from '../errors.js'

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/

/**
 * Guards the publish APIs. With a key, `Authorization: Bearer <key>` is required; with none,
 * only loopback clients may publish (so `npm start` works locally without exposing publishing).
 */
export function checkBroadcastKey(key: string, authorization: string | undefined, remoteAddress: string | undefined): void {
  if (!key) {
    if (remoteAddress && LOOPBACK.test(remoteAddress)) return
    throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'no broadcast key is configured, so only loopback clients may publish')
  }
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '')
  const given = Buffer.from(match?.[1]?.trim() ?? '', 'utf8')
  const expected = Buffer.from(key, 'utf8')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HeraldError('HERALD_ERR_UNAUTHORIZED', 'expected Authorization: Bearer <broadcast key>')
  }
}
