import pino, { type Logger } from 'pino'
import type { LogLevel } from '../config/schema.js'
import {
  observe,
  type BrokerError, type BrokerStateChange, type CommandIgnore, type ConnectionClose, type ConnectionOpen, type Diagnostics, type H2Timeout,
  type HistoryGap, type HistoryReject, type InputReject, type JobStateChange, type Notice, type RequestFail, type SessionRestore,
  type SubscriptionReject, type TransportError,
} from './diagnostics.js'

/** libwebsockets' levels (err, warn, notice, info, debug) as pino levels; notice is the default. */
const LEVELS = { err: 50, warn: 40, notice: 35, info: 30, debug: 20 } as const

export type HeraldLogger = Logger<keyof typeof LEVELS>

export type LogFormat = 'auto' | 'json' | 'pretty'

/**
 * The logger, writing to stderr: JSON lines for machines, or (`pretty`, and `auto` on a terminal)
 * one readable line per entry: `12:00:01 notice herald listening url=http://127.0.0.1:8080`.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream, format: LogFormat = 'json'): HeraldLogger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true)
  destination ??= pretty ? prettyDestination(process.stderr) : pino.destination({ dest: 2, sync: false })
  return pino(
    {
      name: 'herald',
      level,
      customLevels: LEVELS,
      useOnlyCustomLevels: true,
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  ) as HeraldLogger
}

const OMIT = new Set(['level', 'time', 'pid', 'name', 'msg'])

/** One line per JSON entry: time, level, message, then the fields as key=value. */
function prettyDestination(out: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(line: string) {
      let entry: Record<string, unknown>
      try {
        entry = JSON.parse(line)
      } catch {
        out.write(line)
        return
      }
      const time = new Date(Number(entry.time)).toTimeString().slice(0, 8)
      let text = `${time} ${String(entry.level).padEnd(6)} ${entry.msg ?? ''}`
      for (const [key, value] of Object.entries(entry)) {
        if (OMIT.has(key) || value === undefined) continue
        text += ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`
      }
      out.write(text + '\n')
    },
  }
}

/**
 * The log lines of one node's diagnostics events, at libwebsockets' levels: rejected input at
 * warn, failures at err, a client's life at debug/info. Returns the function that stops it.
 */
export function logEvents(node: Diagnostics, log: HeraldLogger): () => void {
  return observe(node, {
    connectionOpen: (e: ConnectionOpen) => log.debug({ sid: e.sid, transport: e.transport, remote: e.remote }, 'connection open'),
    connectionClose: (e: ConnectionClose) => log.debug({ sid: e.sid, transport: e.transport, reason: e.reason.reason, detail: e.detail }, 'connection closed'),
    sessionRestore: (e: SessionRestore) => log.info({ sid: e.sid, restoredFrom: e.from, channels: e.channels }, 'session restored'),
    inputReject: (e: InputReject) => log.warn({ ...e.context, code: e.code }, e.detail),
    subscriptionReject: (e: SubscriptionReject) => log.info({ sid: e.sid, identifier: e.identifier, why: e.why }, 'subscription rejected'),
    historyReject: (e: HistoryReject) => {
      if (e.failed) log.err({ sid: e.sid, identifier: e.identifier, err: e.why }, 'history failed')
      else log.info({ sid: e.sid, identifier: e.identifier, why: e.why }, 'history rejected')
    },
    historyGap: (e: HistoryGap) => log.info({ sid: e.sid, stream: e.stream, after: e.after, got: e.got }, 'offsets skipped: recovering from history'),
    commandIgnore: (e: CommandIgnore) => log.info({ sid: e.sid, command: e.command, identifier: e.identifier }, 'command ignored: no actions on $pubsub streams'),
    requestFail: (e: RequestFail) => log.err({ err: e.err, where: e.where }, 'request failed'),
    transportError: (e: TransportError) => log.debug({ err: (e.err as Error)?.message ?? e.err, kind: e.kind, code: (e.err as NodeJS.ErrnoException)?.code }, `${e.kind} error`),
    brokerState: (e: BrokerStateChange) => log[e.state === 'down' ? 'err' : 'notice']({ broker: e.kind, state: e.state, detail: e.detail }, `broker ${e.state}`),
    brokerError: (e: BrokerError) => log.err({ err: e.err, op: e.op }, 'broker operation failed'),
    h2Timeout: (e: H2Timeout) => {
      if (e.kind === 'ping') log.info({ remote: e.remote }, 'http2 ping unanswered: closing the connection')
      else if (e.kind === 'request') log.warn({ remote: e.remote, code: 'HERALD_ERR_REQUEST_TIMEOUT' }, 'http2 request body not received within --request-timeout: 408 or RST_STREAM')
    },
    jobState: (e: JobStateChange) => {
      const fields = { job: e.id, type: e.type, state: e.state, attempt: e.attempt, durationMs: e.durationMs, error: e.error }
      if (e.state === 'queued') log.debug(fields, 'job queued')
      else if (e.state === 'running') log.info(fields, e.attempt !== undefined && e.attempt > 1 ? 'job started again (retry)' : 'job started')
      else if (e.state === 'retrying') log.info(fields, 'job attempt failed: it will be retried')
      else log.info(fields, `job ${e.state}`)
    },
    notice: (e: Notice) => log[e.level](e.context, e.message),
  })
}
