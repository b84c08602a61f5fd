import { createHmac, timingSafeEqual } from 'node:crypto'

/** HMAC algorithms only, as AnyCable's identity/jwt.go (SigningMethodHMAC); `none` and RSA are refused. */
const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const

export type JwtVerdict = { ok: true; claims: Record<string, unknown> } | { ok: false; why: string }

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * Verifies a compact JWS (RFC 7515) signed with `secret`, and its `exp` / `nbf` (RFC 7519 §4.1,
 * Unix seconds). Claims such as AnyCable's `ext` are returned, not interpreted.
 */
export function verifyJwt(token: string, secret: string, nowMs = Date.now()): JwtVerdict {
  const parts = token.split('.')
  if (parts.length !== 3) return { ok: false, why: 'not a compact JWT' }
  const header = decodePart(parts[0])
  const alg = typeof header?.alg === 'string' ? header.alg : ''
  if (!(alg in HMAC)) return { ok: false, why: `algorithm ${JSON.stringify(alg)} not allowed` }
  const expected = createHmac(HMAC[alg as keyof typeof HMAC], secret).update(`${parts[0]}.${parts[1]}`).digest()
  const given = Buffer.from(parts[2], 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, why: 'bad signature' }
  const claims = decodePart(parts[1])
  if (!claims) return { ok: false, why: 'payload is not a JSON object' }
  const now = nowMs / 1000
  if (typeof claims.exp === 'number' && now >= claims.exp) return { ok: false, why: 'token expired' }
  if (typeof claims.nbf === 'number' && now < claims.nbf) return { ok: false, why: 'token not yet valid' }
  return { ok: true, claims }
}

/** Signs claims as an HS256 JWT (for tests and for backends written in JavaScript). */
export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const head = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')
  return `${head}.${body}.${sig}`
}
