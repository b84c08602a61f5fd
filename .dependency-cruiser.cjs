/**
 * The layers of src/, lowest first, as docs/architecture.md draws them. A folder (or root
 * module) may import only from layers below its own, never from its own layer's other entries or
 * from above: so the folders form a DAG and no two folders can import each other, type imports
 * included (`tsPreCompilationDeps`). `npm test` runs this (`depcruise --validate`).
 */
const LAYERS = [
  // vocabulary
  ['src/types', 'src/errors.ts', 'src/protocol'],
  ['src/disconnect.ts', 'src/config'],
  // observations: channels, and the logger and metrics that subscribe to them
  ['src/observability'],
  // pieces with one outside concern each
  ['src/auth', 'src/broker', 'src/http'],
  ['src/framing'],
  ['src/hub'],
  ['src/core'],
  ['src/transport'],
  ['src/jobs'],
  ['src/server'],
  // composition and entry points
  ['src/herald.ts', 'src/tools'],
  ['src/index.ts', 'src/cli'],
]

const esc = (s) => s.replace(/[.]/g, '\\.')
const pathOf = (entry) => `^${esc(entry)}${entry.endsWith('.ts') ? '$' : '/'}`

const layerRules = LAYERS.flatMap((entries, level) =>
  entries.map((entry) => {
    const notBelow = LAYERS.slice(level).flat().filter((other) => other !== entry)
    return {
      name: `layer:${entry}`,
      comment: `${entry} may import only the layers below it, not ${notBelow.join(', ')}`,
      severity: 'error',
      from: { path: pathOf(entry) },
      to: { path: notBelow.map(pathOf) },
    }
  }).filter((rule) => rule.to.path.length > 0),
)

module.exports = {
  forbidden: [
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
}
