import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { configSchema, type HeraldConfig } from './schema.js'

/** Every problem with the configuration, one `path: message` per line. */
export class HeraldConfigError extends Error {
  readonly code = 'HERALD_ERR_CONFIG'
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'HeraldConfigError'
  }
}

const keys = Object.keys(configSchema.shape) as (keyof HeraldConfig)[]
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
const envName = (k: string) => `HERALD_${kebab(k).replace(/-/g, '_').toUpperCase()}`
const flagToKey = new Map(keys.map((k) => [kebab(k), k]))

/** Each option as JSON Schema (zod's public view of it): its type, default and description. */
interface OptionSchema {
  type?: string
  default?: unknown
  description?: string
}
export const optionSchemas = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }).properties as Record<string, OptionSchema>

/** The JSON type of a field: `number` (integers too), `boolean`, `array` or `string`. */
function baseType(key: string): string {
  const type = optionSchemas[key]?.type
  return type === 'integer' ? 'number' : (type ?? 'string')
}

const stringBool = z.stringbool({ truthy: ['1', 'true', 'yes', 'on'], falsy: ['0', 'false', 'no', 'off'] })

/** Turns a string from the environment or the command line into the field's type. */
function coerce(key: string, raw: string, source: string, problems: string[]): unknown {
  switch (baseType(key)) {
    case 'number': {
      const n = Number(raw)
      if (raw.trim() !== '' && Number.isFinite(n)) return n
      // Reported here only: undefined keeps the schema from reporting the same value again.
      problems.push(`${key}: expected a number, got "${raw}" (${source})`)
      return undefined
    }
    case 'boolean': {
      const parsed = stringBool.safeParse(raw)
      if (parsed.success) return parsed.data
      problems.push(`${key}: expected true or false, got "${raw}" (${source})`)
      return undefined
    }
    case 'array':
      try {
        return JSON.parse(raw)
      } catch {
        problems.push(`${key}: expected a JSON array, got "${raw}" (${source})`)
        return undefined
      }
    default:
      return raw
  }
}

export interface LoadSources {
  argv?: readonly string[]
  env?: NodeJS.ProcessEnv
  /** Options given in code; they rank between the config file and the environment. */
  overrides?: Record<string, unknown>
}

/** Parses `--key value`, `--key=value`, `--flag`, `--no-flag` and `--config FILE`. */
export function parseArgv(argv: readonly string[], problems: string[]): { file?: string; values: Record<string, unknown> } {
  const values: Record<string, unknown> = {}
  let file: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith('--')) { problems.push(`unexpected argument "${arg}"`); continue }
    const [flag, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined]
    let name = flag
    const negated = name.startsWith('no-') && !flagToKey.has(name)
    if (negated) name = name.slice(3)
    if (name === 'config') {
      file = inline ?? argv[++i]
      if (!file) problems.push('--config: expected a file path')
      continue
    }
    const key = flagToKey.get(name)
    if (!key) { problems.push(`--${name}: unknown option`); continue }
    const isBool = baseType(key) === 'boolean'
    if (negated) { if (isBool) values[key] = false; else problems.push(`--no-${name}: not a boolean option`); continue }
    let raw = inline
    if (raw === undefined) {
      const next = argv[i + 1]
      if (isBool && (next === undefined || next.startsWith('--'))) raw = 'true'
      else if (next === undefined) { problems.push(`--${name}: expected a value`); continue }
      else raw = argv[++i]
    }
    values[key] = coerce(key, raw, `--${name}`, problems)
  }
  return { file, values }
}

function readEnv(env: NodeJS.ProcessEnv, problems: string[]): Record<string, unknown> {
  const values: Record<string, unknown> = {}
  for (const key of keys) {
    const raw = env[envName(key)]
    if (raw !== undefined) values[key] = coerce(key, raw, envName(key), problems)
  }
  return values
}

function readFile(file: string, problems: string[]): Record<string, unknown> {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8'))
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`${file}: expected a JSON object`)
      return {}
    }
    // Accept kebab-case keys in the file too, so flags and file read alike.
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(parsed)) {
      const key = flagToKey.get(k) ?? k
      // lws-style string flags ("h2-half-closed-long-poll": "1") read like the command line.
      out[key] = typeof v === 'string' && baseType(key) === 'boolean' ? coerce(key, v, file, problems) : v
    }
    return out
  } catch (err) {
    problems.push(`${file}: ${(err as Error).message}`)
    return {}
  }
}

const camel = (k: string) => k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/** A listener entry with kebab-case keys and lws-style "1"/"0" flags, as camelCase and booleans. */
function normalizeListener(entry: unknown): unknown {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return entry
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(entry)) {
    const key = camel(k)
    if (key === 'h2HalfClosedLongPoll' && typeof v === 'string') {
      const parsed = stringBool.safeParse(v)
      out[key] = parsed.success ? parsed.data : v
    } else out[key] = v
  }
  return out
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/**
 * Builds the configuration from, in rising precedence: defaults, the JSON file named by
 * `--config`, code overrides, `HERALD_*` variables and CLI flags. Reports every problem at once.
 */
export function loadConfig(sources: LoadSources = {}): Readonly<HeraldConfig> {
  const problems: string[] = []
  const args = parseArgv(sources.argv ?? [], problems)
  const fromFile = args.file ? readFile(args.file, problems) : {}
  const fromEnv = readEnv(sources.env ?? {}, problems)
  const merged: Record<string, unknown> = { ...fromFile, ...sources.overrides, ...fromEnv, ...args.values }
  if (Array.isArray(merged.listeners)) merged.listeners = merged.listeners.map(normalizeListener)
  const result = configSchema.safeParse(merged)
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.join('.') || '(root)'
      const keysHint = issue.code === 'unrecognized_keys' ? `: ${issue.keys.join(', ')}` : ''
      problems.push(`${path}: ${issue.message}${keysHint}`)
    }
  }
  if (problems.length > 0) throw new HeraldConfigError(problems)
  return deepFreeze(result.data!)
}

/** Lines for `herald --help`: every option with its flag, variable, default and description. */
export function describeOptions(): string[] {
  return keys.map((k) => {
    const option = optionSchemas[k]
    return `  --${kebab(k)} (${envName(k)}, default ${JSON.stringify(option.default)})\n      ${option.description ?? ''}`
  })
}

export { envName, kebab }
