import { z } from 'zod'

/** Durations are in seconds (fractions allowed), sizes in bytes, as in AnyCable's options. */
const seconds = (def: number, what: string) =>
  z.number().min(0).default(def).describe(`${what} (seconds)`)
const bytes = (def: number, what: string) =>
  z.number().int().min(1).default(def).describe(`${what} (bytes)`)

export const BROKERS = ['memory', 'redis', 'nats'] as const

export const JOB_RUNNERS = ['process', 'bullmq'] as const

export const LOG_LEVELS = ['err', 'warn', 'notice', 'info', 'debug'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** --tls-cert and --tls-key come together. */
function tlsPairCheck(v: { tlsCert: string; tlsKey: string }, ctx: z.RefinementCtx): void {
  if (Boolean(v.tlsCert) !== Boolean(v.tlsKey)) {
    ctx.addIssue({ code: 'custom', path: [v.tlsCert ? 'tlsKey' : 'tlsCert'], message: 'tlsCert and tlsKey must be given together' })
  }
}

/** A broker's address only with that broker (a forgotten --broker would run a lone memory node), and well-formed. */
function brokerCheck(v: { broker: string; redisUrl: string; natsUrl: string }, ctx: z.RefinementCtx): void {
  for (const [key, broker] of [['redisUrl', 'redis'], ['natsUrl', 'nats']] as const) {
    if (v[key] && v.broker !== broker) ctx.addIssue({ code: 'custom', path: [key], message: `is set but --broker is ${v.broker}: add --broker ${broker}` })
  }
  if (v.redisUrl && !/^(redis|rediss|redis\+sentinel|redis\+cluster):\/\/\S+$/.test(v.redisUrl)) {
    ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: `"${v.redisUrl}" is not a Redis URL (redis://, rediss://, redis+sentinel:// or redis+cluster://)` })
  }
  if (v.natsUrl && !v.natsUrl.split(',').every((u) => /^((nats|tls):\/\/)?([^\s,/@]+@)?[^\s,/:@]+(:\d+)?\/?$/.test(u.trim()))) {
    ctx.addIssue({ code: 'custom', path: ['natsUrl'], message: `"${v.natsUrl}" is not a NATS URL list (nats://host:port, comma-separated)` })
  }
}

/**
 * One more listener ("virtual host") with its own address, TLS files and HTTP/2 options; the
 * h2 timeouts default to the top-level ones. The JSON file may use kebab-case keys and the seed's
 * `"h2-half-closed-long-poll": "1"` (src/config/load.ts normalises both).
 */
export const listenerSchema = z.strictObject({
  name: z.string().optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535),
  tlsCert: z.string().default(''),
  tlsKey: z.string().default(''),
  tlsCiphers: z.string().default(''),
  h2HalfClosedLongPoll: z.boolean().default(false),
  h2IdleTimeout: z.number().min(0).optional(),
  h2PingInterval: z.number().min(0).optional(),
  h2PingTimeout: z.number().min(0).optional(),
  h2MaxStreams: z.number().int().min(1).max(2 ** 31 - 1).optional(),
}).superRefine(tlsPairCheck)

export type ListenerConfig = z.infer<typeof listenerSchema>

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
  logFormat: z.enum(['auto', 'json', 'pretty']).default('auto').describe('log lines as JSON, or pretty for people; auto = pretty when stderr is a terminal'),

  broadcastKey: z.string().default('')
    .describe('bearer key for POST /_broadcast and worker progress; empty = only loopback clients may publish'),
  streamsSecret: z.string().default('')
    .describe('HMAC secret for signed stream names; empty = a random secret per process'),
  publicStreams: z.boolean().default(false).describe('allow subscribing to unsigned stream names'),

  workers: z.string().regex(/^(auto|[1-9]\d{0,2})$/, 'a number of processes (1-999) or auto').default('1')
    .describe('Herald processes serving the same port on this machine (auto = one per core); more than 1 needs --broker redis or nats'),
  broker: z.enum(BROKERS).default('memory')
    .describe('where streams, history and shared state live: memory (this process only) | redis | nats (JetStream); see docs/brokers.md'),
  redisUrl: z.string().default('').describe(
    'Redis for --broker redis: redis://[user:password@]host:port[/db], rediss:// (TLS), redis+sentinel://host:port,…/<master>, redis+cluster://host:port,…; empty = redis://127.0.0.1:6379',
  ),
  natsUrl: z.string().default('').describe('NATS server(s) with JetStream for --broker nats: nats://host:port, comma-separated; empty = nats://127.0.0.1:4222'),
  brokerPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('herald')
    .describe('starts every key, channel, subject, JetStream stream and KV bucket of a network broker; the nodes of one cluster share it'),
  natsReplicas: z.number().int().min(1).max(5).default(1).describe('JetStream replicas of the NATS history stream and KV buckets (3 on a NATS cluster)'),
  historyMetaTtl: seconds(86400, "how long a stream's epoch and last offset outlive its last publish on Redis (at least --history-ttl), so a client at the top resumes without reject_history"),

  historyLimit: z.number().int().min(0).default(100).describe('messages kept per stream for recovery'),
  historyTtl: seconds(300, 'how long stream history is kept'),
  sessionsTtl: seconds(300, 'how long a disconnected session can be restored (0 = never)'),
  sessionsMaxEntries: z.number().int().min(1).default(100_000)
    .describe('most disconnected sessions kept for restore on a node with the memory broker (the oldest go first)'),
  sessionsMaxBytes: bytes(64 * 1024 * 1024, 'most bytes of disconnected sessions kept for restore with the memory broker; one session\'s state at most a sixteenth'),

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
  wsCompression: z.boolean().default(false)
    .describe('negotiate permessage-deflate (RFC 7692) on WebSockets, over HTTP/1.1 and HTTP/2: each broadcast is compressed once (against the previous one of its stream for clients that keep their window) and the same frame goes to every client in the same state; client messages are inflated up to max-message-size'),
  allowedOrigins: z.string().default('*').describe('comma-separated allowed Origin hosts or URLs; * = any'),

  headersTimeout: seconds(15, 'longest a client may take to send its request headers (over it: 408)'),
  requestTimeout: seconds(30, 'longest a client may take to send a whole request, body included (over it: 408; HTTP/2: 408, or RST_STREAM once the answer has begun); held responses and immortal HTTP/2 streams are not cut'),
  keepAliveTimeout: seconds(5, 'close an idle HTTP/1.1 keep-alive connection after this long'),

  outboxBytes: bytes(1024 * 1024, 'per-client budget of queued outgoing bytes (over it: disconnect too_slow)'),
  maxBodyBytes: bytes(65536, 'largest HTTP request body for the jobs and publish APIs (over it: 413)'),
  maxJsonDepth: z.number().int().min(1).max(1000).default(64)
    .describe('deepest nesting of arrays and objects accepted in any JSON input: publish data, jobs, commands (over it: 400, or invalid_command)'),
  maxSubscriptions: z.number().int().min(1).default(1000)
    .describe('most subscriptions one connection may hold (over it: reject_subscription with a reason)'),
  maxIdentifierLength: z.number().int().min(64).default(4096)
    .describe('longest channel identifier a command may carry, in characters (over it: invalid_command)'),

  rateConnectionsPerIp: z.number().min(0).default(0)
    .describe('new client sessions (WebSocket upgrades, SSE/NDJSON streams, long-poll sessions, job polls) a second per IP, bursts of twice that (over it: 429 with Retry-After); 0 = no limit'),
  rateCommandsPerConnection: z.number().min(0).default(0)
    .describe('commands a second one client may send, bursts of twice that (over it: disconnect rate_limited, reconnect allowed); 0 = no limit'),
  rateApiRequests: z.number().min(0).default(0)
    .describe('publish and jobs API requests a second per Authorization key, or per IP without one, bursts of twice that (over it: 429 with Retry-After); 0 = no limit'),

  jwtSecret: z.string().default('')
    .describe('HMAC secret for connection tokens (HS256/384/512 in ?jid=, X-JID or a jid.<token> WebSocket subprotocol); with no --jwt-secret, --jwt-public-key or --jwt-jwks-url there is no connection auth'),
  jwtPublicKey: z.string().default('')
    .describe('PEM public key (a file, or the PEM text itself) verifying RS256/384/512, PS256 and ES256/384/512 connection tokens'),
  jwtJwksUrl: z.string().default('')
    .refine((v) => v === '' || /^https?:\/\/\S+$/.test(v), 'must be an http:// or https:// URL')
    .describe('JWKS URL whose keys verify RS*/PS*/ES* connection tokens (cached; fetched again for an unknown kid)'),
  jwtAudience: z.string().default('').describe('required aud claim of connection tokens; empty = not checked'),
  jwtIssuer: z.string().default('').describe('required iss claim of connection tokens; empty = not checked'),
  jwtClockTolerance: seconds(0, 'leeway for the exp and nbf claims of connection tokens'),

  sse: z.boolean().default(true).describe('serve Server-Sent Events at /events and /jobs/:id/events'),
  poll: z.boolean().default(true).describe('serve session long polling at --poll-path'),
  pollPath: z.string().regex(/^\//, 'must start with /').default('/lp').describe('session long-polling endpoint path'),
  pollInterval: seconds(15, 'longest a long poll is held open waiting for messages'),
  pollFlushInterval: seconds(0.5, 'how long a held long poll keeps collecting messages after the first arrives'),
  pollMaxRequestSize: bytes(65536, 'largest long-poll request body (over it: 413, the session keeps working)'),
  pollKeepaliveTimeout: seconds(5, 'close a long-poll session not polled for this long; its next poll gets 401'),
  jobPollTimeout: seconds(30, 'default hold of GET /jobs/:id/poll before it answers 204'),
  jobPollMaxTimeout: seconds(120, 'largest ?timeout= a per-job poll may ask for'),

  jobsTtl: seconds(3600, "how long a finished job stays readable via GET /jobs/:id (the TTL of job records in the broker's store)"),
  jobs: z.enum(JOB_RUNNERS).default('process')
    .describe('where job handlers run: process (in this node) | bullmq (POST /jobs enqueues on --jobs-queue for `herald worker` processes; needs --broker redis or nats); see docs/jobs.md'),
  jobsRedisUrl: z.string().default('').describe("Redis of the BullMQ queue: redis://[user:password@]host:port[/db]; empty = --redis-url, else redis://127.0.0.1:6379"),
  jobsQueue: z.string().regex(/^[\w.-]{1,64}$/, '1-64 of letters, digits, _ . -').default('herald-jobs').describe('BullMQ queue that nodes enqueue on and workers consume'),
  jobsQueuePrefix: z.string().regex(/^[\w.-]{1,64}$/, '1-64 of letters, digits, _ . -').default('bull').describe("BullMQ's key prefix (its `prefix` option)"),
  jobsAttempts: z.number().int().min(1).max(1000).default(3).describe('attempts a queued job gets before it fails (BullMQ retries, with exponential backoff)'),
  jobsBackoff: seconds(1, 'first retry delay of a queued job; doubles with each attempt'),
  jobsConcurrency: z.number().int().min(1).max(10_000).default(4).describe('herald worker: jobs one worker process runs at once'),
  jobsLockDuration: seconds(30, 'herald worker: how long a job stays locked to its worker without a renewal; a worker gone longer has its job retried (stall detection)'),
  jobsStalledInterval: seconds(30, 'herald worker: how often workers look for stalled jobs (those of dead workers)'),
  jobsHandlers: z.string().default('').describe('herald worker: a module whose exports are job type definitions ({ handler, parseInput }) by type name, or a default export of them'),
  jobsFollow: z.string().default('').describe('BullMQ queues (comma-separated) whose jobs Herald did not start are followed on streams job:<queue>.<id> (run it on one process: herald worker or one node)'),
  maxRunningJobs: z.number().int().min(0).default(1000)
    .describe('most live jobs on this node: handlers running here plus external jobs started here (over it: POST /jobs answers 503 with Retry-After); 0 = no limit'),
  jobsReportTimeout: seconds(60, 'an external job with no progress or result report for this long fails with an error event; 0 = never'),
  demoJobMaxDuration: seconds(600, "longest run of the built-in demo job (steps × delayMs); longer inputs are refused with 400"),
  demo: z.boolean().default(true).describe('serve the demo page at GET /'),

  tlsCert: z.string().default('').describe('PEM certificate file; with --tls-key the listener is HTTPS with ALPN h2 and http/1.1'),
  tlsKey: z.string().default('').describe('PEM private key file for --tls-cert'),
  tlsCiphers: z.string().default('')
    .describe('OpenSSL cipher list for TLS 1.2 (e.g. "RC4-MD5:RC4-SHA:AES128-SHA:AES256-SHA:HIGH:!DSS:!aNULL"); empty = Node\'s default'),
  h2HalfClosedLongPoll: z.boolean().default(false)
    .describe('HTTP/2 streaming responses whose client has half-closed are exempt from idle timeouts (lws "h2-half-closed-long-poll")'),
  h2IdleTimeout: seconds(180, 'close an HTTP/2 stream, or a whole HTTP/2 connection, with no frames for this long (keep it above the longest held poll); 0 = never'),
  h2PingInterval: seconds(20, 'HTTP/2 PING interval on connections exempt from the idle timeout; 0 = no pings'),
  h2PingTimeout: seconds(10, 'close an HTTP/2 connection whose PING is not answered within this time'),
  h2MaxStreams: z.number().int().min(1).max(2 ** 31 - 1).default(128)
    .describe('SETTINGS_MAX_CONCURRENT_STREAMS advertised on HTTP/2 connections (nginx: 128); streams over it are refused'),
  listeners: z.array(listenerSchema).default([])
    .describe('more listeners ("virtual hosts"), in the JSON file: [{"port":8443,"tls-cert":…,"tls-key":…,"h2-half-closed-long-poll":"1"}]'),
}).superRefine((v, ctx) => {
  tlsPairCheck(v, ctx)
  brokerCheck(v, ctx)
  // Each process would keep streams of its own: they must share a broker.
  if (v.workers !== '1' && v.broker === 'memory') {
    ctx.addIssue({ code: 'custom', path: ['workers'], message: 'more than one worker needs a shared broker: add --broker redis (or nats); with the memory broker each worker would have streams of its own' })
  }
  // Workers publish events and records through the broker: a memory broker lives in one process.
  if (v.jobs === 'bullmq' && v.broker === 'memory') {
    ctx.addIssue({ code: 'custom', path: ['jobs'], message: 'BullMQ workers share jobs through the broker: add --broker redis (or nats)' })
  }
  if (v.jobsRedisUrl && !/^(redis|rediss):\/\/\S+$/.test(v.jobsRedisUrl)) {
    ctx.addIssue({ code: 'custom', path: ['jobsRedisUrl'], message: `"${v.jobsRedisUrl}" is not a Redis URL (redis:// or rediss://)` })
  }
  // Node refuses a server whose headersTimeout exceeds its requestTimeout.
  if (v.requestTimeout > 0 && v.headersTimeout > v.requestTimeout) {
    ctx.addIssue({ code: 'custom', path: ['headersTimeout'], message: 'must not exceed requestTimeout' })
  }
})

export type HeraldConfig = z.infer<typeof configSchema>
export type HeraldConfigInput = z.input<typeof configSchema>
