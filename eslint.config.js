// ESLint (flat config) with typescript-eslint: the checks `npm test` runs besides tsc. Layer
// rules between folders are dependency-cruiser's (.dependency-cruiser.cjs).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'packages/*/dist/', '.bench-tmp/', 'demo/', '.stryker-tmp/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // A type-only import says so, and disappears from the emitted JavaScript.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Wire-level code handles untyped JSON and private ws fields on purpose; each cast is local.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', URL: 'readonly' } },
  },
  {
    // The core never touches a socket (STYLE §3): transports own the wire libraries.
    files: ['src/core/**/*.ts', 'src/hub/**/*.ts', 'src/broker/**/*.ts', 'src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['ws', 'node:http', 'node:http2', 'node:net', 'node:tls', 'http', 'http2', 'net', 'tls'].map((name) => ({
          name, message: 'the core never imports a socket library: that is a transport\'s job (src/transport/)',
        })),
      }],
    },
  },
)
