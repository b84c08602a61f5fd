// `npm run mutation`: StrykerJS over the core folders (src/protocol, broker, core, hub, auth), one
// folder per Stryker run (stryker.config.mjs reads HERALD_MUTATION_FOLDER), then one table of the
// scores per folder and overall. Arguments name folders to run instead of all five
// (`npm run mutation -- auth hub`); `--report` prints the table from the last reports without
// running anything. Each folder's run is incremental: a rerun tests only the mutants whose code or
// covering tests changed. Reports: reports/mutation/<folder>.html and .json. Not in CI (slow on two
// cores); docs/testing.md has the last score and how long a run takes.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const folders = ['protocol', 'broker', 'core', 'hub', 'auth'] as const
const say = (line: string) => process.stderr.write(`mutation: ${line}\n`)

type Counts = Record<'files' | 'killed' | 'timeout' | 'survived' | 'noCoverage' | 'ignored' | 'errors', number>

function counts(folder: string): Counts | undefined {
  const path = join(root, 'reports/mutation', `${folder}.json`)
  if (!existsSync(path)) return undefined
  const report = JSON.parse(readFileSync(path, 'utf8')) as { files: Record<string, { mutants: { status: string }[] }> }
  const c: Counts = { files: 0, killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
  for (const file of Object.values(report.files)) {
    c.files++
    for (const { status } of file.mutants) {
      if (status === 'Killed') c.killed++
      else if (status === 'Timeout') c.timeout++
      else if (status === 'Survived') c.survived++
      else if (status === 'NoCoverage') c.noCoverage++
      else if (status === 'Ignored') c.ignored++
      else c.errors++
    }
  }
  return c
}

// `files`: the files a folder's last run mutated (a run narrowed with Stryker's --mutate covers fewer).

/** Stryker's score: detected (killed + timed out) over every valid mutant (ignored and errors left out). */
function score(c: Counts): string {
  const valid = c.killed + c.timeout + c.survived + c.noCoverage
  return valid === 0 ? '-' : `${((100 * (c.killed + c.timeout)) / valid).toFixed(2)}%`
}

function table(names: readonly string[]): void {
  const total: Counts = { files: 0, killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 }
  const rows: string[][] = [['folder', 'score', 'files', 'killed', 'timeout', 'survived', 'no coverage', 'ignored (static)', 'errors']]
  for (const folder of names) {
    const c = counts(folder)
    if (!c) {
      rows.push([`src/${folder}`, 'not run', '', '', '', '', '', '', ''])
      continue
    }
    for (const key of Object.keys(total) as (keyof Counts)[]) total[key] += c[key]
    rows.push([`src/${folder}`, score(c), ...Object.values(c).map(String)])
  }
  rows.push(['all', score(total), ...Object.values(total).map(String)])
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const row of rows) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}\n`)
}

function stryker(folder: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(join(root, 'node_modules/.bin/stryker'), ['run'], {
      cwd: root,
      env: { ...process.env, HERALD_MUTATION_FOLDER: folder },
      stdio: 'inherit',
    })
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
  })
}

async function main(argv: string[]): Promise<number> {
  const reportOnly = argv.includes('--report')
  const asked = argv.filter((a) => a !== '--report')
  for (const a of asked) {
    if (!(folders as readonly string[]).includes(a)) {
      say(`unknown folder "${a}": expected some of ${folders.join(', ')}`)
      return 2
    }
  }
  const chosen = asked.length > 0 ? asked : folders
  if (!reportOnly) {
    for (const folder of chosen) {
      const started = Date.now()
      say(`src/${folder}: running Stryker`)
      const code = await stryker(folder)
      say(`src/${folder}: done in ${Math.round((Date.now() - started) / 1000)} s`)
      if (code !== 0) return code
    }
  }
  table(folders)
  return 0
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err) => {
    process.stderr.write(`npm run mutation: ${err?.stack ?? err}\n`)
    process.exitCode = 1
  },
)
