// Rows of a bench run grouped by (scenario, transport, size, server, phase): what the report's
// tables, summary and plots read.
import type { Row } from '../scenarios.js'
import type { Figures } from './stats.js'

export const SERVER_ORDER = ['herald', 'ws', 'socket.io', 'nchan']

export interface Group {
  scenario: Row['scenario']
  transport: string
  size: number
  server: string
  phase: string
  runs: Row[]
}

export function groups(rows: Row[]): Group[] {
  const m = new Map<string, Group>()
  for (const r of rows) {
    const key = `${r.scenario}|${r.transport}|${r.size}|${r.server}|${r.phase}`
    let g = m.get(key)
    if (!g) m.set(key, (g = { scenario: r.scenario, transport: r.transport, size: r.size, server: r.server, phase: r.phase, runs: [] }))
    g.runs.push(r)
  }
  return [...m.values()].sort((a, b) =>
    a.transport.localeCompare(b.transport) || a.size - b.size || SERVER_ORDER.indexOf(a.server) - SERVER_ORDER.indexOf(b.server) || a.phase.localeCompare(b.phase))
}

export const figs = (g: Group | undefined, k: keyof Figures): number[] => g?.runs.map((r) => r.figures?.[k] as number).filter((x) => x !== undefined && Number.isFinite(x)) ?? []

/** The group of one (scenario, transport, size, server, phase), if the run has it. */
export function find(all: Group[], scenario: string, transport: string, size: number, server: string, phase: string): Group | undefined {
  return all.find((g) => g.scenario === scenario && g.transport === transport && g.size === size && g.server === server && g.phase === phase)
}
