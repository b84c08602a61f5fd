// `npm test`: the whole suite on a fresh machine, with nothing set up by hand. Brings up what the
// tests need (scripts/services.ts), type-checks, builds the client bundle, then runs every
// test/**/*.test.ts with Node's own runner; servers it started are stopped at the end. Arguments
// are test files to run instead of all of them (`npm test -- test/unit/outbox.test.ts`).
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { buildClient } from './build-client.js'
import { ensureServices, MissingPrerequisite, type Services } from './services.js'

const root = new URL('..', import.meta.url).pathname
const say = (line: string) => process.stderr.write(`test: ${line}\n`)

function testFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...testFiles(path))
    else if (name.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out.sort()
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' })
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
  })
}

async function main(argv: string[]): Promise<number> {
  let services: Services
  try {
    services = await ensureServices()
  } catch (err) {
    if (!(err instanceof MissingPrerequisite)) throw err
    process.stderr.write(`npm test cannot run here: ${err.message}\n`)
    return 2
  }
  const stopOnSignal = () => void services.stop().then(() => process.exit(130))
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  try {
    const env = { ...process.env, ...services.env }
    const bin = (name: string) => join(root, 'node_modules/.bin', name)
    for (const [step, command, args] of [
      ['type-checking src/', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']],
      ['type-checking test/, bench/ and examples/', bin('tsc'), ['-p', 'test/tsconfig.json', '--noEmit']],
      ['type-checking packages/client (browser types only)', bin('tsc'), ['-p', 'packages/client/tsconfig.json', '--noEmit']],
      ['linting (eslint, typescript-eslint)', bin('eslint'), ['--max-warnings=0', '.']],
      ['checking the layers of src/ (dependency-cruiser: no import upwards, no cycle between folders)', bin('depcruise'), ['--validate', '.dependency-cruiser.cjs', 'src']],
    ] as const) {
      say(step)
      const code = await run(command, [...args], env)
      if (code !== 0) return code
    }
    // The demo page and the browser tests load Herald's client from GET /herald-client.js.
    say('building the client bundle (packages/client)')
    await buildClient()
    // The client's Chromium tests go last: beside the bench harness (first, and compiling all of
    // src/ with tsc) they slowed it past its 110 s limit on a 2-core machine.
    const all = testFiles(join(root, 'test'))
    const files = argv.length > 0 ? argv : [...all.filter((f) => !f.startsWith('test/client/')), ...all.filter((f) => f.startsWith('test/client/'))]
    const concurrency = process.env.TEST_CONCURRENCY ?? '2'
    say(`running ${files.length} test files, ${concurrency} at a time (slow ones print their steps as "# …" lines)`)
    return await run(process.execPath, [
      '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...files,
    ], env)
  } finally {
    await services.stop()
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err) => {
    process.stderr.write(`npm test: ${err?.stack ?? err}\n`)
    process.exitCode = 1
  },
)
