import { z } from 'zod'

/** Durations are in seconds (fractions allowed), sizes in bytes, as in AnyCable's options. */
const seconds = (def: number, what: string) =>
  z.number().min(0).default(def).describe(`${what} (seconds)`)
const bytes = (def: number, what: string) =>
  z.number().int().min(1).default(def).describe(`${what} (bytes)`)

export const LOG_LEVELS = ['err', 'warn', 'notice', 'info', 'debug'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/**
 * The single source of Herald's options: name, default, unit and a one-line description.
 * CLI flags are the kebab-case of each key (`--history-limit`), environment variables
 * are HERALD_ + its SCREAMING_SNAKE_CASE (`HERALD_HISTORY_LIMIT`).
 */
export const configSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1').describe('address to listen on'),
  port: z.number().int().min(0).max(65535).default(8080).describe('port to listen on (0 = any free port)'),
  path: z.string().regex(/^\//, 'must start with /').default('/cable').describe('WebSocket endpoint path'),
  logLevel: z.enum(LOG_LEVELS).default('notice').describe('log level: err|warn|notice|info|debug'),

  broadcastKey: z.string().default('')
    .describe('bearer key for POST /_broadcast and worker progress; empty = only loopback clients may publish'),
  streamsSecret: z.string().default('')
    .describe('HMAC secret for signed stream names; empty = a random secret per process'),
  publicStreams: z.boolean().default(false).describe('allow subscribing to unsigned stream names'),

  historyLimit: z.number().int().min(0).default(100).describe('messages kept per stream for recovery'),
  historyTtl: seconds(300, 'how long stream history is kept'),
  sessionsTtl: seconds(300, 'how long a disconnected session can be restored (0 = never)'),

  pingInterval: seconds(3, 'interval of protocol pings to clients'),
  maxMessageSize: bytes(65536, 'largest WebSocket message a client may send (over it: close 1009)'),
  maxSessions: z.number().int().min(0).default(0)
    .describe('most simultaneous client sessions; 0 = derived from the open-file limit minus a reserve'),
  inactivityTimeout: seconds(0, 'close a WebSocket that sent nothing (not even a pong) for this long; 0 = never'),
  maxLifetime: seconds(0, 'close any WebSocket after this long (request timeout); 0 = never'),
  kaTime: seconds(0, 'TCP keepalive idle time before the first probe; 0 = keepalive off'),
  kaProbes: z.number().int().min(0).default(0).describe('TCP keepalive probes (informational on Node 20: the kernel setting applies)'),
  kaInterval: seconds(0, 'TCP keepalive probe interval (informational on Node 20: the kernel setting applies)'),
  ignoreEncodingErrors: z.boolean().default(false).describe('accept text frames that are not valid UTF-8 (default: close 1007)'),
  allowedOrigins: z.string().default('*').describe('comma-separated allowed Origin hosts or URLs; * = any'),

  outboxBytes: bytes(1024 * 1024, 'per-client budget of queued outgoing bytes (over it: disconnect too_slow)'),
  maxBodyBytes: bytes(65536, 'largest HTTP request body for the jobs and publish APIs (over it: 413)'),

  jobsTtl: seconds(3600, 'how long a finished job stays readable via GET /jobs/:id'),
  demo: z.boolean().default(true).describe('serve the demo page at GET /'),
})

export type HeraldConfig = z.infer<typeof configSchema>
export type HeraldConfigInput = z.input<typeof configSchema>
