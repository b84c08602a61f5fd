import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Signed stream names, compatible with AnyCable and Rails' MessageVerifier:
 * `base64(JSON(name)) + "--" + hex(HMAC-SHA256(secret, base64part))`.
 */
export function signStream(stream: string, secret: string): string {
  const encoded = Buffer.from(JSON.stringify(stream), 'utf8').toString('base64')
  return `${encoded}--${digest(encoded, secret)}`
}

/** The stream name inside `signed`, or undefined when the signature or the payload is wrong. */
export function verifySignedStream(signed: string, secret: string): string | undefined {
  if (!secret) return undefined
  const parts = signed.split('--')
  if (parts.length !== 2) return undefined
  const [encoded, given] = parts
  const expected = digest(encoded, secret)
  const a = Buffer.from(given, 'utf8')
  const b = Buffer.from(expected, 'utf8')
  if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined
  try {
    const value = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'))
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

function digest(encoded: string, secret: string): string {
  return createHmac('sha256', secret).update(encoded).digest('hex')
}
