/** The reserved channel of standalone streams, as in AnyCable. */
export const PUBSUB_CHANNEL = '$pubsub'

export type StreamRequest =
  | { kind: 'public'; stream: string }
  | { kind: 'signed'; signed: string }
  | { kind: 'other'; channel: string }

/**
 * Reads what a channel identifier asks for. Identifiers are opaque strings on the wire and are
 * echoed byte for byte; this only looks inside. A signed name wins over a public one (AnyCable 1.6).
 */
export function parseIdentifier(identifier: string): StreamRequest | undefined {
  let value: unknown
  try {
    value = JSON.parse(identifier)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const v = value as Record<string, unknown>
  if (typeof v.channel !== 'string') return undefined
  if (v.channel !== PUBSUB_CHANNEL) return { kind: 'other', channel: v.channel }
  if (typeof v.signed_stream_name === 'string' && v.signed_stream_name) return { kind: 'signed', signed: v.signed_stream_name }
  if (typeof v.stream_name === 'string' && v.stream_name) return { kind: 'public', stream: v.stream_name }
  return undefined
}

/** The identifier `@anycable/core` builds for `streamFrom(name)` (keys sorted, no spaces). */
export function publicIdentifier(stream: string): string {
  return `{"channel":"${PUBSUB_CHANNEL}","stream_name":${JSON.stringify(stream)}}`
}

/** The identifier `@anycable/core` builds for `streamFromSigned(signed)`. */
export function signedIdentifier(signed: string): string {
  return `{"channel":"${PUBSUB_CHANNEL}","signed_stream_name":${JSON.stringify(signed)}}`
}
