import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { HeraldConfigError, loadConfig } from '../../src/config/load.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'herald-config-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
function configFile(content: unknown): string {
  const file = join(dir, `config-${++files}.json`)
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

/** The problems of a configuration that must fail. */
function problems(sources: Parameters<typeof loadConfig>[0]): string[] {
  try {
    loadConfig(sources)
  } catch (err) {
    assert.ok(err instanceof HeraldConfigError, `expected HeraldConfigError, got ${err}`)
    assert.equal(err.code, 'HERALD_ERR_CONFIG')
    for (const p of err.problems) assert.ok(err.message.includes(p))
    return err.problems
  }
  assert.fail('configuration was accepted')
}

describe('loadConfig', () => {
  test('defaults', () => {
    const c = loadConfig()
    assert.equal(c.host, '127.0.0.1')
    assert.equal(c.port, 8080)
    assert.equal(c.path, '/cable')
    assert.equal(c.historyLimit, 100)
    assert.equal(c.historyTtl, 300)
    assert.equal(c.publicStreams, false)
    assert.equal(c.logLevel, 'notice')
  })

  test('precedence: defaults < file < env HERALD_* < flags', () => {
    const file = configFile({ port: 1001, historyLimit: 5, historyTtl: 7, 'ping-interval': 9 })
    const c = loadConfig({
      argv: ['--config', file, '--port', '1003'],
      env: { HERALD_PORT: '1002', HERALD_HISTORY_LIMIT: '6', UNRELATED: 'x' },
    })
    assert.equal(c.port, 1003, 'flag beats env and file')
    assert.equal(c.historyLimit, 6, 'env beats file')
    assert.equal(c.historyTtl, 7, 'file beats default')
    assert.equal(c.pingInterval, 9, 'kebab-case keys in the file')
    assert.equal(c.sessionsTtl, 300, 'default')
  })

  test('code overrides rank between the file and the environment', () => {
    const file = configFile({ port: 1001, historyLimit: 5 })
    const c = loadConfig({ argv: ['--config', file], env: { HERALD_HISTORY_LIMIT: '6' }, overrides: { port: 1004, historyLimit: 9 } })
    assert.equal(c.port, 1004)
    assert.equal(c.historyLimit, 6)
  })

  test('flag forms: --key value, --key=value, bare booleans, --no-flag, fractional seconds', () => {
    const c = loadConfig({ argv: ['--port=0', '--public-streams', '--no-demo', '--history-ttl', '0.5', '--allowed-origins', 'a.example,b.example'] })
    assert.equal(c.port, 0)
    assert.equal(c.publicStreams, true)
    assert.equal(c.demo, false)
    assert.equal(c.historyTtl, 0.5)
    assert.equal(c.allowedOrigins, 'a.example,b.example')
    assert.equal(loadConfig({ argv: ['--public-streams', 'false'] }).publicStreams, false)
    assert.equal(loadConfig({ argv: ['--public-streams', '--port', '1'] }).publicStreams, true)
  })

  test('environment values are coerced: numbers and yes/no booleans', () => {
    const c = loadConfig({ env: { HERALD_PUBLIC_STREAMS: 'yes', HERALD_DEMO: 'off', HERALD_MAX_LIFETIME: '2.5', HERALD_BROADCAST_KEY: 'k' } })
    assert.equal(c.publicStreams, true)
    assert.equal(c.demo, false)
    assert.equal(c.maxLifetime, 2.5)
    assert.equal(c.broadcastKey, 'k')
  })

  test('the result is deeply frozen', () => {
    const c = loadConfig()
    assert.ok(Object.isFrozen(c))
    assert.throws(() => { (c as any).port = 1 }, TypeError)
    assert.equal(c.port, 8080)
  })

  test('every invalid option is reported at once, each with its path', () => {
    const file = configFile({ historyTtl: -3, bogusKey: 1 })
    const list = problems({
      argv: ['--config', file, '--port', 'nope', '--history-limit', '-1', '--log-level', 'loud', '--unknown-flag', 'x', '--path', 'cable'],
      env: { HERALD_PUBLIC_STREAMS: 'maybe', HERALD_MAX_SESSIONS: '1.5' },
    })
    const text = list.join('\n')
    for (const name of ['port', 'historyLimit', 'logLevel', '--unknown-flag', 'path', 'historyTtl', 'bogusKey', 'publicStreams', 'maxSessions']) {
      assert.ok(list.some((p) => p.includes(name)), `${name} is named in:\n${text}`)
    }
    assert.match(text, /port: expected a number, got "nope" \(--port\)/)
    assert.match(text, /publicStreams: expected true or false, got "maybe" \(HERALD_PUBLIC_STREAMS\)/)
    assert.match(text, /^historyLimit: /m)
    assert.match(text, /^path: must start with \//m)
  })

  test('each bad option is reported once', () => {
    const list = problems({ argv: ['--port', 'nope', '--public-streams', 'maybe'] })
    assert.equal(list.filter((p) => p.startsWith('port:')).length, 1, list.join('\n'))
    assert.equal(list.filter((p) => p.startsWith('publicStreams:')).length, 1, list.join('\n'))
  })

  test('an unreadable or non-object config file is a problem, not a crash', () => {
    assert.match(problems({ argv: ['--config', join(dir, 'missing.json')] }).join('\n'), /missing\.json/)
    assert.match(problems({ argv: ['--config', configFile('{ not json')] }).join('\n'), /config-\d+\.json/)
    assert.match(problems({ argv: ['--config', configFile([1, 2])] }).join('\n'), /expected a JSON object/)
    assert.match(problems({ argv: ['--config'] }).join('\n'), /--config: expected a file path/)
  })

  test('flags that need a value, stray arguments and --no- on non-booleans', () => {
    const text = problems({ argv: ['stray', '--no-port', '--host'] }).join('\n')
    assert.match(text, /unexpected argument "stray"/)
    assert.match(text, /--no-port: not a boolean option/)
    assert.match(text, /--host: expected a value/)
  })
})

describe('herald CLI', () => {
  test('exits 2 on bad options and names every problem', async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--port', 'nope', '--history-limit', '-1'],
        { cwd: root, timeout: 60_000, env: { ...process.env, HERALD_PORT: undefined } }, (err, _stdout, stderr) => {
          if (err && typeof err.code !== 'number') reject(err)
          else resolve({ code: child.exitCode, stderr })
        })
    })
    assert.equal(code, 2, stderr)
    assert.match(stderr, /port/)
    assert.match(stderr, /historyLimit/)
  })
})
