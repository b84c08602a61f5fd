/**
 * Redis names for Herald's streams and stores. A stream's keys share a hash tag so that Redis
 * Cluster keeps them in one slot (the publish script touches both). The tag is the stream name
 * with `%`, `{` and `}` escaped: a name with braces would otherwise end the tag early and
 * scatter its keys over slots (or two names onto one tag).
 */
export class RedisKeys {
  /** The channel every node subscribes to for Broker.notify. */
  readonly control: string

  constructor(readonly prefix: string) {
    this.control = `${prefix}control`
  }

  /** [meta, log, channel] of a stream. */
  stream(stream: string): [meta: string, log: string, channel: string] {
    const base = `${this.prefix}{${hashTag(stream)}}`
    return [`${base}:m`, `${base}:h`, base]
  }

  kv(namespace: string, key: string): string {
    return `${this.prefix}kv:${namespace}:${key}`
  }
}

/** Escapes what would break a hash tag; injective, so two names never share keys. */
export function hashTag(stream: string): string {
  return /[%{}]/.test(stream) ? stream.replace(/[%{}]/g, (ch) => `%${ch.charCodeAt(0).toString(16)}`) : stream
}
