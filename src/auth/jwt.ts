import { createHmac, createPublicKey, type KeyObject } from 'node:crypto'
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose'

/** HMAC algorithms, verified with `--jwt-secret` (AnyCable's identity/jwt.go). */
const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const
/** Public-key algorithms, verified with `--jwt-public-key` or a key of `--jwt-jwks-url`. */
const PUBLIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'ES512'] as const

export type JwtVerdict = { ok: true; claims: Record<string, unknown> } | { ok: false; why: string }

export interface JwtOptions {
  /** HS256/384/512 secret; empty = no HMAC tokens. */
  secret: string
  /** A PEM public key (SPKI or certificate) for RS*, PS* and ES* tokens; empty = none. */
  publicKey: string
  /** A JWKS URL whose keys verify RS*, PS* and ES* tokens (jose's createRemoteJWKSet: cached, refetched on an unknown `kid`). */
  jwksUrl: string
  /** Required `aud` (one of the token's audiences); empty = not checked. */
  audience: string
  /** Required `iss`; empty = not checked. */
  issuer: string
  /** Leeway for `exp` and `nbf`, ms. */
  clockToleranceMs: number
  /** Longest wait for the JWKS URL, ms. */
  jwksTimeoutMs?: number
}

const JSON_OBJECT = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** base64url as RFC 7515 §2 has it: no padding, and only the canonical encoding of its bytes (no stray bits). */
function canonicalBase64url(part: string): boolean {
  return /^[A-Za-z0-9_-]*$/.test(part) && part.length % 4 !== 1 && Buffer.from(part, 'base64url').toString('base64url') === part
}

function headerOf(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
    return JSON_OBJECT(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** jose's typed errors → the reason logged with the refusal (the client hears only `unauthorized`). */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired'
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' && err.reason === 'check_failed') return 'token not yet valid'
    return `claim ${err.claim}: ${err.message}`
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature'
  if (err instanceof errors.JWTInvalid) return 'payload is not a JSON object'
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the JWKS matches the token'
  if (err instanceof errors.JWKSTimeout) return 'the JWKS URL did not answer in time'
  if (err instanceof errors.JOSEError) return err.message
  // A key of the wrong type for the algorithm, a JWKS fetch that failed…: still only a refusal.
  return `token cannot be verified: ${err instanceof Error ? err.message : String(err)}`
}

/**
 * Connection tokens, verified with jose: strict claims (`exp`, `nbf` and `iat` must be numbers,
 * `aud`/`iss` when configured), a clock tolerance, HMAC with the secret and RSA/ECDSA with a PEM
 * public key or a JWKS URL. `verify` never throws: every failure is a verdict with its reason.
 */
export class JwtVerifier {
  private readonly hmacKey: Uint8Array | undefined
  private readonly publicKey: KeyObject | undefined
  private readonly jwks: JWTVerifyGetKey | undefined
  private readonly algorithms: string[]

  constructor(private readonly options: Readonly<JwtOptions>) {
    this.hmacKey = options.secret ? new TextEncoder().encode(options.secret) : undefined
    this.publicKey = options.publicKey ? createPublicKey(options.publicKey) : undefined
    this.jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: options.jwksTimeoutMs ?? 5000 }) : undefined
    this.algorithms = [...(this.hmacKey ? HMAC_ALGS : []), ...(this.publicKey || this.jwks ? PUBLIC_ALGS : [])]
  }

  get enabled(): boolean {
    return this.algorithms.length > 0
  }

  private readonly keyFor: JWTVerifyGetKey = async (header, token) => {
    if (header.alg?.startsWith('HS')) return this.hmacKey!
    if (this.publicKey) return this.publicKey
    return this.jwks!(header, token)
  }

  async verify(token: string, nowMs?: number): Promise<JwtVerdict> {
    if (typeof token !== 'string') return { ok: false, why: 'not a compact JWT' }
    const parts = token.split('.')
    if (parts.length !== 3) return { ok: false, why: 'not a compact JWT' }
    const alg = headerOf(parts[0])?.alg
    if (typeof alg !== 'string' || !this.algorithms.includes(alg)) return { ok: false, why: `algorithm ${JSON.stringify(typeof alg === 'string' ? alg : '')} not allowed` }
    // jose decodes leniently: a signature with stray bits or padding would pass as another encoding of the same bytes.
    if (!parts.every(canonicalBase64url)) return { ok: false, why: 'not canonical base64url' }
    try {
      const { payload } = await jwtVerify(token, this.keyFor, {
        algorithms: this.algorithms,
        audience: this.options.audience || undefined,
        issuer: this.options.issuer || undefined,
        clockTolerance: this.options.clockToleranceMs / 1000,
        currentDate: nowMs === undefined ? undefined : new Date(nowMs),
      })
      return { ok: true, claims: payload as Record<string, unknown> }
    } catch (err) {
      return { ok: false, why: reasonOf(err) }
    }
  }
}

/** Verifies an HMAC token with `secret` and no other checks: the verifier with only a secret. */
export function verifyJwt(token: string, secret: string, nowMs?: number): Promise<JwtVerdict> {
  return new JwtVerifier({ secret, publicKey: '', jwksUrl: '', audience: '', issuer: '', clockToleranceMs: 0 }).verify(token, nowMs)
}

/**
 * Signs claims as an HS256 JWT (for tests and for backends written in JavaScript). Synchronous,
 * unlike jose's SignJWT, so a URL can be built in one expression; the verifier is jose's.
 */
export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const head = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`
}
