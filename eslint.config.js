// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The layering, as import rules. Type-only imports count: a layer that names another's types depends on it.

/** Fastify and its plugins belong to the HTTP front door. */
const FASTIFY = {
  regex: '^(fastify|fastify-plugin|@fastify/.+)$',
  message: 'only the HTTP front door (routes/, the app assembly modules, later src/http/) imports Fastify',
};

/** Relative imports of the core or the routes, from anywhere under providers/. */
const CORE = {
  regex: '^(\\.\\./)+(src|routes)(/|$)',
  message: 'providers import nothing from the core (src/) or the routes: they throw ProviderErrors, the core maps them',
};

const IO = {
  regex: '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|dgram|dns|tls)$|^undici(/.*)?$',
  message: 'src/openai/ maps wire formats only: no I/O',
};

const restrict = (/** @type {{ regex: string; message: string }[]} */ ...patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
});

/** The modules that assemble the Fastify app today; the target layout moves them under src/http/. */
const APP_ASSEMBLY = [
  'src/http/**',
  'src/app.ts',
  'src/services.ts',
  'src/error-handler.ts',
  'src/auth.ts',
  'src/browser-guard.ts',
  'src/json-nesting.ts',
  'src/websocket-upgrades.ts',
];

export default defineConfig(
  { ignores: ['dist/', 'data/', 'workspace/', 'coverage/', 'scratch/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // `const { dropped: _, ...kept } = obj` is how a field is left out.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Input validation matches control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  // Tests and benchmarks read arbitrary JSON answers.
  { files: ['test/**', 'bench/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: globals.node } },
  // Options do not merge across blocks: a file gets the last block's list, so each block lists all of its own.
  { files: ['providers/**'], rules: restrict(CORE, FASTIFY) },
  { files: ['src/**'], ignores: APP_ASSEMBLY, rules: restrict(FASTIFY) },
  { files: ['src/openai/**'], rules: restrict(FASTIFY, IO) },
);
