/**
 * NATS names for Herald's streams and stores. Subjects: `<prefix>.s.<token>` (kept by the
 * history JetStream stream), `<prefix>.live.<token>` (the stream republishes each stored
 * message there, for live delivery) and `<prefix>.control` (Broker.notify).
 */
export class NatsNames {
  /** The prefix as a subject token and a stream-name part: letters, digits, `_` and `-` only. */
  readonly prefix: string
  /** The JetStream stream that keeps every Herald stream's history. */
  readonly historyStream: string
  readonly control: string

  constructor(prefix: string) {
    this.prefix = prefix.replace(/[^A-Za-z0-9_-]/g, '_') || 'herald'
    this.historyStream = `${this.prefix}_history`
    this.control = `${this.prefix}.control`
  }

  stored(stream: string): string {
    return `${this.prefix}.s.${escapeToken(stream)}`
  }

  live(stream: string): string {
    return `${this.prefix}.live.${escapeToken(stream)}`
  }

  /** A KV bucket per store namespace (a bucket's TTL is bucket-wide). */
  bucket(namespace: string): string {
    return `${this.prefix}_${escapeToken(namespace)}`
  }
}

const SAFE = /^[A-Za-z0-9_-]+$/

/**
 * Any string as one subject token or KV key: letters, digits, `_` and `-` stay, every other
 * UTF-8 byte becomes `=XX`. Injective (a literal `=` is escaped too), and free of `.`, `*`,
 * `>` and spaces, which a subject token cannot hold. The empty string is `=`.
 */
export function escapeToken(name: string): string {
  if (SAFE.test(name)) return name
  if (name === '') return '='
  let out = ''
  for (const ch of name) {
    if (/[A-Za-z0-9_-]/.test(ch)) out += ch
    else for (const byte of Buffer.from(ch)) out += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
