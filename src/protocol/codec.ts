import { DEFAULT_MAX_JSON_DEPTH, jsonTooDeep } from './json-depth.js'
import type { Command, HistoryRequest, StreamPosition } from './messages.js'

/** Why a command could not be decoded; the connection turns it into HERALD_ERR_BAD_COMMAND. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProtocolError'
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

function decodePosition(stream: string, v: unknown): StreamPosition {
  if (!isObject(v)) throw new ProtocolError(`history.streams.${stream} must be an object`)
  const offset = v.offset
  const epoch = v.epoch
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw new ProtocolError(`history.streams.${stream}.offset must be a non-negative integer`)
  }
  if (typeof epoch !== 'string') throw new ProtocolError(`history.streams.${stream}.epoch must be a string`)
  return { offset, epoch }
}

export function decodeHistory(v: unknown): HistoryRequest {
  if (!isObject(v)) throw new ProtocolError('history must be an object')
  const out: { since?: number; streams?: Record<string, StreamPosition> } = {}
  if (v.since !== undefined && v.since !== null) {
    if (typeof v.since !== 'number' || !Number.isFinite(v.since)) throw new ProtocolError('history.since must be a number')
    out.since = v.since
  }
  if (v.streams !== undefined && v.streams !== null) {
    if (!isObject(v.streams)) throw new ProtocolError('history.streams must be an object')
    out.streams = {}
    for (const [stream, pos] of Object.entries(v.streams)) out.streams[stream] = decodePosition(stream, pos)
  }
  return out
}

function needIdentifier(msg: Record<string, unknown>): string {
  if (typeof msg.identifier !== 'string') throw new ProtocolError(`${String(msg.command)}: identifier must be a string`)
  return msg.identifier
}

export interface CommandLimits {
  /** Deepest nesting of arrays and objects accepted (`--max-json-depth`). */
  maxDepth: number
  /** Longest channel identifier accepted, in characters (`--max-identifier-length`). */
  maxIdentifierLength: number
}

const DEFAULT_LIMITS: CommandLimits = { maxDepth: DEFAULT_MAX_JSON_DEPTH, maxIdentifierLength: 4096 }

/** Decodes one client command from JSON text. Throws ProtocolError naming the problem. */
export function decodeCommand(text: string, limits: CommandLimits = DEFAULT_LIMITS): Command {
  if (jsonTooDeep(text, limits.maxDepth)) throw new ProtocolError(`nested deeper than ${limits.maxDepth} levels (--max-json-depth)`)
  const command = decodeShape(text)
  if ('identifier' in command && command.identifier.length > limits.maxIdentifierLength) {
    throw new ProtocolError(`identifier longer than ${limits.maxIdentifierLength} characters (--max-identifier-length)`)
  }
  return command
}

function decodeShape(text: string): Command {
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    throw new ProtocolError('not valid JSON')
  }
  if (!isObject(msg)) throw new ProtocolError('a command must be a JSON object')
  switch (msg.command) {
    case 'subscribe': {
      const identifier = needIdentifier(msg)
      return msg.history === undefined || msg.history === null
        ? { command: 'subscribe', identifier }
        : { command: 'subscribe', identifier, history: decodeHistory(msg.history) }
    }
    case 'unsubscribe':
      return { command: 'unsubscribe', identifier: needIdentifier(msg) }
    case 'message': {
      const identifier = needIdentifier(msg)
      if (typeof msg.data !== 'string') throw new ProtocolError('message: data must be a JSON-encoded string')
      return { command: 'message', identifier, data: msg.data }
    }
    case 'history':
      return { command: 'history', identifier: needIdentifier(msg), history: decodeHistory(msg.history) }
    case 'whisper':
      return { command: 'whisper', identifier: needIdentifier(msg), data: msg.data }
    case 'pong':
      return { command: 'pong' }
    case 'ping':
      return { command: 'ping' }
    default:
      throw new ProtocolError(`unknown command ${JSON.stringify(msg.command)}`)
  }
}
