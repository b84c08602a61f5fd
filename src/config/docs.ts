import { envName, kebab, optionSchemas } from './load.js'

/** docs/configuration.md, generated from the schema so the two cannot disagree. */
export function configurationMarkdown(): string {
  const rows = Object.entries(optionSchemas).map(([key, option]) => {
    const shown = option.default === undefined ? '' : `\`${JSON.stringify(option.default)}\``
    return `| \`--${kebab(key)}\` | \`${envName(key)}\` | ${shown} | ${String(option.description ?? '').replace(/\|/g, '\\|')} |`
  })
  return `# Configuration

Generated from \`src/config/schema.ts\` by \`npm run docs:config\`; do not edit by hand.

Sources, in rising precedence: defaults, a JSON file (\`--config FILE\`, keys in camelCase or
kebab-case), \`HERALD_*\` environment variables, command-line flags. Every invalid option is
reported at once (\`path: problem\`, one per line) and Herald exits with status 2. Booleans accept
\`true/false/1/0/yes/no\`; \`--flag\` alone means true and \`--no-flag\` false. Durations are
seconds (fractions allowed), sizes are bytes.

| flag | environment | default | meaning |
| --- | --- | --- | --- |
${rows.join('\n')}
`
}
