import { Cluster, Redis, type RedisOptions } from 'ioredis'

/**
 * Options every Herald connection to Redis shares. A network broker must fail fast rather
 * than queue: while Redis is away a publish rejects at once (503 to the publisher) instead of
 * waiting in an unbounded offline queue, and a command in flight when the connection drops is
 * rejected, not re-sent (a publish script may already have run: re-sending could publish twice).
 */
const COMMON: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  // The v5 wire protocol: script replies and pub/sub messages keep their plain RESP2 shapes.
  protocol: 2,
  connectTimeout: 5000,
  // A hung server (not a closed socket) must not hold publishes forever: one timer per
  // connection while replies are due (commandTimeout's timer per command cost a third of the
  // publish rate).
  socketTimeout: 5000,
  // Reconnect quickly and keep trying: 100 ms, 200 ms … at most 1 s apart.
  retryStrategy: (times) => Math.min(times * 100, 1000),
}

/**
 * What the broker uses of a client, the same for one server, Sentinel and Cluster. Typing
 * against this instead of `Redis | Cluster` keeps the compiler out of ioredis's thousands of
 * command overloads (a third more type-checking time for all of src/).
 */
export interface RedisClient {
  readonly status: string
  connect(): Promise<void>
  quit(): Promise<unknown>
  disconnect(): void
  on(event: string, listener: (...args: any[]) => void): unknown
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void
  get(key: string): Promise<string | null>
  set(key: string, value: string, px: 'PX', ms: number): Promise<unknown>
  getdel(key: string): Promise<string | null>
  del(...keys: string[]): Promise<number>
  publish(channel: string, message: string): Promise<number>
  subscribe(...channels: string[]): Promise<unknown>
  unsubscribe(...channels: string[]): Promise<unknown>
}

/**
 * A client for `url`:
 * - `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS): one server;
 * - `redis+sentinel://[:password@]host:port,host:port/<master name>`: the master Sentinel names;
 * - `redis+cluster://[:password@]host:port,host:port`: a Redis Cluster, from these seed nodes.
 */
export function createRedisClient(url: string, role: string, extra: RedisOptions = {}): RedisClient {
  const options: RedisOptions = { ...COMMON, connectionName: `herald-${role}`, ...extra }
  const parsed = parseRedisUrl(url)
  if (parsed.kind === 'single') return new Redis(url, options) as unknown as RedisClient
  const auth = { username: parsed.username, password: parsed.password }
  if (parsed.kind === 'sentinel') return new Redis({ ...options, ...auth, sentinels: parsed.hosts, name: parsed.name }) as unknown as RedisClient
  return new Cluster(parsed.hosts, {
    redisOptions: { ...options, ...auth },
    enableOfflineQueue: false,
    enableAutoPipelining: options.enableAutoPipelining,
    clusterRetryStrategy: options.retryStrategy as (times: number) => number,
  }) as unknown as RedisClient
}

export type ParsedRedisUrl =
  | { kind: 'single' }
  | { kind: 'sentinel' | 'cluster'; hosts: { host: string; port: number }[]; name: string; username?: string; password?: string }

/** Reads a `--redis-url`; throws an Error whose message says what is wrong with it. */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const m = /^([a-z+]+):\/\//.exec(url)
  const scheme = m?.[1]
  if (scheme === 'redis' || scheme === 'rediss') {
    new URL(url) // throws on a malformed address
    return { kind: 'single' }
  }
  if (scheme !== 'redis+sentinel' && scheme !== 'redis+cluster') {
    throw new Error(`"${url}" is not a Redis URL (redis://, rediss://, redis+sentinel:// or redis+cluster://)`)
  }
  const rest = url.slice(m![0].length)
  const at = rest.lastIndexOf('@')
  const [user, password] = at >= 0 ? rest.slice(0, at).split(':').map(decodeURIComponent) : []
  const [hostList, name = ''] = rest.slice(at + 1).split('/')
  const hosts = hostList.split(',').filter(Boolean).map((h) => {
    const [host, port] = h.split(':')
    return { host, port: Number(port || (scheme === 'redis+sentinel' ? 26379 : 6379)) }
  })
  if (hosts.length === 0 || hosts.some((h) => !h.host || !Number.isInteger(h.port))) throw new Error(`"${url}" lists no valid host:port`)
  if (scheme === 'redis+sentinel' && !name) throw new Error(`"${url}" names no master (redis+sentinel://host:port/<master name>)`)
  return { kind: scheme === 'redis+sentinel' ? 'sentinel' : 'cluster', hosts, name, username: user || undefined, password }
}
