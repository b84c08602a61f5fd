// A small hand-written SVG line chart for the bench report: a few series over a handful of x
// values (subscriber counts), log or linear axes. No plotting library: the report has one kind of
// chart, and a dependency for it would outweigh the code.

export interface Series {
  name: string
  /** [x, y] pairs; non-finite y values are left out (a phase that did not run). */
  points: [number, number][]
  dashed?: boolean
}

export interface Chart {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  logY?: boolean
  width?: number
  height?: number
}

// Colour-blind-safe (Okabe–Ito), one per server in SERVER_ORDER; a series' colour follows its name.
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9']

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const num = (v: number) => Number(v.toPrecision(3)).toLocaleString('en')

/** Round tick values covering [lo, hi]: powers of ten (and 2, 5 between) on a log axis, 1-2-5 steps otherwise. */
function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = []
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e
        if (v >= lo / 1.0001 && v <= hi * 1.0001) out.push(v)
      }
    }
    return out
  }
  const raw = (hi - lo) / 5
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step / 1e6; v += step) out.push(v)
  return out
}

/** The chart as a standalone SVG document; x values are placed evenly (they are a few sizes, not a range). */
export function lineChart(c: Chart): string {
  const width = c.width ?? 640
  const height = c.height ?? 360
  const m = { left: 64, right: 150, top: 36, bottom: 48 }
  const series = c.series.map((s) => ({ ...s, points: s.points.filter(([, y]) => Number.isFinite(y) && (!c.logY || y > 0)) })).filter((s) => s.points.length)
  const xs = [...new Set(series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b)
  const ys = series.flatMap((s) => s.points.map(([, y]) => y))
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`]
  if (!xs.length) {
    out.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">not measured in this run</text></svg>`)
    return out.join('\n')
  }
  const plotW = width - m.left - m.right
  const plotH = height - m.top - m.bottom
  const log = c.logY === true
  let lo = Math.min(...ys), hi = Math.max(...ys)
  if (log) [lo, hi] = [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))]
  else [lo, hi] = [0, hi * 1.1 || 1]
  const tv = ticks(lo, hi, log)
  if (!log) hi = Math.max(hi, tv[tv.length - 1]!)
  const fy = (y: number) => m.top + plotH - (log ? (Math.log10(y) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (y - lo) / (hi - lo)) * plotH
  const fx = (x: number) => m.left + (xs.length === 1 ? plotW / 2 : (xs.indexOf(x) / (xs.length - 1)) * plotW)

  for (const v of tv) {
    const y = fy(v).toFixed(1)
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${num(v)}</text>`)
  }
  for (const x of xs) out.push(`<text x="${fx(x).toFixed(1)}" y="${m.top + plotH + 18}" text-anchor="middle">${x.toLocaleString('en')}</text>`)
  out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<text x="${m.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${esc(c.xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}${log ? ' (log scale)' : ''}</text>`)

  const names = [...new Set(series.map((s) => s.name.split(' ')[0]!))]
  series.forEach((s, i) => {
    const colour = COLOURS[names.indexOf(s.name.split(' ')[0]!) % COLOURS.length]
    const pts = s.points.map(([x, y]) => `${fx(x).toFixed(1)},${fy(y).toFixed(1)}`)
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.join(' ')}"/>`)
    for (const p of pts) {
      const [px, py] = p.split(',')
      out.push(`<circle cx="${px}" cy="${py}" r="3" fill="${colour}"/>`)
    }
    const ly = m.top + 8 + i * 18
    out.push(`<line x1="${width - m.right + 12}" x2="${width - m.right + 36}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${width - m.right + 42}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
