// A Stryker reporter (stryker.config.mjs: `appendPlugins`, reporter `survivors-log`) that writes
// each surviving or uncovered mutant to reports/mutation/<folder>.survivors.txt as soon as it is
// tested, so a run that takes an hour can be worked on before it ends (the clear-text and HTML
// reports only come at the end). One line per mutant: file:line:column, status, mutator, and the
// replacement. The file starts empty at each run; an incremental rerun lists only what it retested
// and what it reused as still surviving.
// @ts-check
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, relative } from 'node:path'

const LISTED = new Set(['Survived', 'NoCoverage'])

class SurvivorsLog {
  constructor() {
    this.file = `reports/mutation/${process.env.HERALD_MUTATION_FOLDER ?? 'all'}.survivors.txt`
    mkdirSync(dirname(this.file), { recursive: true })
    writeFileSync(this.file, '')
  }

  /** @param {{ status: string, fileName: string, location: { start: { line: number, column: number } }, mutatorName: string, replacement?: string }} result */
  onMutantTested(result) {
    if (!LISTED.has(result.status)) return
    // The report schema's positions: lines and columns counted from 1, as editors do.
    const { line, column } = result.location.start
    const replacement = (result.replacement ?? '').replace(/\s+/g, ' ').slice(0, 160)
    appendFileSync(this.file, `${relative(process.cwd(), result.fileName)}:${line}:${column}  ${result.status}  ${result.mutatorName}  ${replacement}\n`)
  }
}

// What @stryker-mutator/api's declareClassPlugin(PluginKind.Reporter, …) returns, written out so
// this file needs no package that is not a direct dependency.
export const strykerPlugins = [{ kind: 'Reporter', name: 'survivors-log', injectableClass: SurvivorsLog }]
