// The soak's samples, its verdict and its section of docs/benchmarks.md.

/** One sample of the server, taken every `--sample-seconds`. */
export interface SoakSample {
  /** Seconds since the population was up. */
  at: number
  rssBytes: number
  /** V8 heap in use after a full GC (the heap probe), or NaN when the probe did not answer. */
  heapBytes: number
  connections: number
  /** Deliveries counted by the clients since the previous sample, per second. */
  deliveriesPerSec: number
  reconnects: number
  tooSlow: number
  failed: number
}

export interface SoakRun {
  minutes: number
  connections: number
  streams: number
  sampleSeconds: number
  published: number
  samples: SoakSample[]
  finishedAt: string
  machine: string
}

const MiB = 1024 * 1024
const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]
}

/** Allowed growth from the middle third to the last: 5% plus 4 MiB of noise (GC timing, allocator pages); 10 MiB of heap over 10 minutes is not noise. */
export const TOLERANCE = { ratio: 0.05, bytes: 4 * MiB }

export interface Trend { middle: number; last: number; flat: boolean }

/**
 * Whether a series stays flat: the median of its last third against the median of its middle
 * third (the first third is warm-up: JIT, pools, the history rings filling).
 */
export function trend(values: number[]): Trend {
  const third = Math.floor(values.length / 3)
  const middle = median(values.slice(third, 2 * third))
  const last = median(values.slice(2 * third))
  return { middle, last, flat: !(last > middle * (1 + TOLERANCE.ratio) + TOLERANCE.bytes) }
}

export function verdict(run: SoakRun): { flat: boolean; text: string } {
  if (run.samples.length < 3) return { flat: false, text: 'too few samples for a verdict (at least 3: run longer or sample more often)' }
  const rss = trend(run.samples.map((s) => s.rssBytes))
  const heap = trend(run.samples.map((s) => s.heapBytes))
  const say = (name: string, t: Trend) => `${name} ${(t.middle / MiB).toFixed(1)} → ${(t.last / MiB).toFixed(1)} MiB (${t.last >= t.middle ? '+' : ''}${(((t.last - t.middle) / t.middle) * 100).toFixed(1)}%)`
  const flat = rss.flat && heap.flat
  return {
    flat,
    text: `${flat ? 'FLAT' : 'GROWING'}: median of the middle third → the last third: ${say('RSS', rss)}, ${say('heap after GC', heap)}; allowed +${TOLERANCE.ratio * 100}% + ${TOLERANCE.bytes / MiB} MiB`,
  }
}

export function renderTable(samples: SoakSample[]): string {
  const lines = [
    '| time | connections | RSS MiB | heap after GC MiB | deliveries/s | reconnects | too_slow | failed |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const s of samples) {
    const t = s.at >= 120 ? `${(s.at / 60).toFixed(s.at % 60 ? 1 : 0)} min` : `${s.at} s`
    lines.push(`| ${t} | ${s.connections} | ${(s.rssBytes / MiB).toFixed(1)} | ${(s.heapBytes / MiB).toFixed(1)} | ${Math.round(s.deliveriesPerSec)} | ${s.reconnects} | ${s.tooSlow} | ${s.failed} |`)
  }
  return lines.join('\n')
}

export const SOAK_BEGIN = '<!-- soak:begin (npm run bench -- soak --report; kept when the rest is re-rendered) -->'
export const SOAK_END = '<!-- soak:end -->'

export function renderSection(run: SoakRun): string {
  const v = verdict(run)
  return [
    SOAK_BEGIN,
    '## Soak',
    '',
    `\`npm run bench -- soak --minutes ${run.minutes} --connections ${run.connections} --report docs/benchmarks.md\`, measured ${run.finishedAt.slice(0, 16).replace('T', ' ')} UTC on ${run.machine}.`,
    `One Herald child process (memory broker, \`--outbox-bytes 262144\`); ${run.connections} subscribers (60% WebSocket, 25% SSE, 15% long polling) on ${run.streams} streams,`,
    '1% of them closed and replaced every second; a publisher sending 100 B messages to random streams 4 times a second and 16 KiB messages to a firehose stream;',
    `every 10 s, 5 WebSocket readers that stop reading the firehose until Herald cuts them \`too_slow\`. RSS from /proc, heap after a full GC (the heap probe), every ${run.sampleSeconds} s; ${run.published.toLocaleString('en-US')} messages published in all.`,
    '',
    renderTable(run.samples),
    '',
    `**Verdict: ${v.text}.**`,
    ...(run.minutes < 30 ? ['', `A ${run.minutes}-minute run at ${run.connections} connections, made to check the harness; the soak proper is \`npm run bench -- soak --report docs/benchmarks.md\` (its defaults: 30 minutes at 3,000 connections) on a quiet machine.`] : []),
    SOAK_END,
  ].join('\n')
}

/** `doc` with its soak section replaced by `section` (or `section` appended when it has none). */
export function withSoakSection(doc: string, section: string | undefined): string {
  if (section === undefined) return doc
  const begin = doc.indexOf(SOAK_BEGIN)
  const end = doc.indexOf(SOAK_END)
  if (begin >= 0 && end > begin) return doc.slice(0, begin) + section + doc.slice(end + SOAK_END.length)
  return `${doc.trimEnd()}\n\n${section}\n`
}

/** The soak section of `doc`, if it has one (kept when the other scenarios re-render the report). */
export function soakSection(doc: string): string | undefined {
  const begin = doc.indexOf(SOAK_BEGIN)
  const end = doc.indexOf(SOAK_END)
  return begin >= 0 && end > begin ? doc.slice(begin, end + SOAK_END.length) : undefined
}
