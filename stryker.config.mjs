// StrykerJS: mutation testing of the core modules. Run it with `npm run mutation` (scripts/mutation.ts),
// which runs this config once per folder (HERALD_MUTATION_FOLDER) and adds up the scores; see
// docs/testing.md for the score, the run time and the survivors. Not in CI: it is slow on two cores.
// HERALD_MUTATION_CONCURRENCY: how many test processes Stryker runs at once (default 1).
// @ts-check
import { readdirSync } from 'node:fs'
const folders = ['protocol', 'broker', 'core', 'hub', 'auth']
const only = process.env.HERALD_MUTATION_FOLDER
if (only !== undefined && !folders.includes(only)) throw new Error(`HERALD_MUTATION_FOLDER=${only}: expected one of ${folders.join(', ')}`)
const name = only ?? 'all'
// Unset or empty means 1.
const concurrencyText = process.env.HERALD_MUTATION_CONCURRENCY || '1'
if (!/^[1-9][0-9]*$/.test(concurrencyText)) throw new Error(`HERALD_MUTATION_CONCURRENCY=${concurrencyText}: expected a positive integer (test processes at once)`)
const concurrency = Number(concurrencyText)

// A mutant runs the files that cover it in this order and stops at the first that fails, so the
// quick files go first: unit tests (under a second each), then the memory broker, Herald end to
// end, and last the Redis and NATS conformance suites (5-6 s each). Listed one by one because a
// glob's order is the file system's.
const inOrder = (dir, names) => names.map((n) => `${dir}/${n}.test.ts`)
// Unit files that wait on real timers (1-6 s each): after the other unit files, which kill most
// of src/core's mutants in under a second.
const slowUnit = inOrder('test/unit', ['connection-liveness', 'core-refresh', 'core-refresh-memory', 'clients', 'core-restore-hold'])
const testFiles = [
  ...readdirSync('test/unit').filter((f) => f.endsWith('.test.ts')).sort().map((f) => `test/unit/${f}`).filter((f) => !slowUnit.includes(f)),
  ...slowUnit,
  // The JSON depth walk against its character-by-character definition (a few seconds).
  'test/property/json-depth.test.ts',
  'test/catalog.test.ts',
  ...inOrder('test/broker', ['options', 'memory']),
  // jwt-modes: public keys and a JWKS URL (src/auth); rate-limits waits on its buckets (7 s), so last.
  ...inOrder('test/e2e', ['smoke', 'publishing', 'connection-auth', 'jwt-modes', 'bad-input', 'positions', 'client-commands', 'rate-limits']),
  ...inOrder('test/broker', ['redis-edges', 'redis-reconnect', 'nats-edges', 'two-nodes', 'redis', 'redis-topologies', 'nats']),
]

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: (only ? [only] : folders).map((folder) => `src/${folder}/**/*.ts`),
  // The tap runner runs each test file as its own `node --import tsx` process (node:test prints TAP
  // when its output is not a terminal) and records which files reach which mutant, so a mutant runs
  // only the files that cover it. The files are the quick ones that exercise these folders; the
  // browser, cluster, HTTP/2 and slow-reader files would make a run take hours (docs/testing.md).
  testRunner: 'tap',
  tap: {
    testFiles,
    nodeArgs: ['--import', 'tsx'],
    forceBail: true,
  },
  coverageAnalysis: 'perTest',
  // A static mutant (one in a module-level initialiser) would have to run every file; they are
  // counted as ignored and listed in the report instead.
  ignoreStatic: true,
  // The machine has 2 cores and is shared: one test process at a time unless
  // HERALD_MUTATION_CONCURRENCY says otherwise (a positive integer; 2 when the machine is quiet).
  concurrency,
  // Reruns test only the mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  // On top of 1.5 × the covering files' own time in the dry run. Tests wait on state with a 10 s
  // deadline, so a mutant that stalls a test is cut short here and counted as a timeout (detected).
  timeoutMS: 4000,
  // survivors-log (scripts/stryker-survivors.mjs): reports/mutation/<folder>.survivors.txt, each
  // survivor as soon as it is found.
  appendPlugins: ['./scripts/stryker-survivors.mjs'],
  reporters: ['clear-text', 'progress-append-only', 'html', 'json', 'survivors-log'],
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
}
