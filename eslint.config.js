// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The layering, as import rules. Type-only imports count: a layer that names another's types depends on it.

/** Fastify and its plugins belong to the HTTP front door. */
const FASTIFY = {
  regex: '^(fastify|fastify-plugin|@fastify/.+)$',
  message: 'only the HTTP front door (routes/, src/http/) imports Fastify',
};

/** Relative imports of the core or the routes, from anywhere under providers/. */
const CORE = {
  regex: '^(\\.\\./)+(src|routes)(/|$)',
  message: 'providers import nothing from the core (src/) or the routes: they throw ProviderErrors, the core maps them',
};

/** The core and the stores know no front door. */
const FRONT_DOORS = {
  regex: '^(\\.\\./)+(http|routes)(/|$)',
  message: 'the core and the stores know no front door: front doors adapt the core, not the other way round',
};

/** The front doors as the facade (src/gateway.ts) names them. */
const FRONT_DOORS_OF_THE_FACADE = {
  regex: '^(\\./http|\\.\\./routes)(/|$)',
  message: 'the gateway facade knows no front door: front doors adapt it, not the other way round',
};

/** Wire formats, from src/core/. */
const WIRE_FORMATS = {
  regex: '^(\\.\\./)+(openai|messages)(/|$)',
  message: 'the core knows no wire format: front doors map to and from it (src/openai/, src/messages/), stores read their old files',
};

/** The HTTP front door, from the Unix-socket one: each adapts the gateway on its own. */
const HTTP_FRONT_DOOR = {
  regex: '^(\\.\\./)+(http|routes)(/|$)',
  message: 'the Unix-socket front door adapts the gateway (src/gateway.ts), not the HTTP front door (src/http/, routes/)',
};

/** The front doors, from the webhooks: they follow the gateway (src/gateway.ts) as a front door does, beside them. */
const WEBHOOKS_FRONT_DOORS = {
  regex: '^(\\.\\./)+(http|routes|unix-socket)(/|$)',
  message: 'src/webhooks/ follows the gateway facade (subscribe), not a front door (src/http/, routes/, src/unix-socket/)',
};

const IO = {
  regex: '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|dgram|dns|tls)$|^undici(/.*)?$',
  message: 'src/openai/, src/messages/ and src/responses/ map wire formats only: no I/O',
};

const restrict = (/** @type {{ regex: string; message: string }[]} */ ...patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
});

/** The Fastify front door's assembly. */
const APP_ASSEMBLY = ['src/http/**'];

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
  // The dashboard runs in the browser.
  { files: ['public/**/*.js'], languageOptions: { globals: globals.browser } },
  // Options do not merge across blocks: a file gets the last block's list, so each block lists all of its own.
  { files: ['providers/**'], rules: restrict(CORE, FASTIFY) },
  { files: ['src/**'], ignores: APP_ASSEMBLY, rules: restrict(FASTIFY) },
  { files: ['src/core/**'], rules: restrict(FASTIFY, FRONT_DOORS, WIRE_FORMATS) },
  { files: ['src/stores/**'], rules: restrict(FASTIFY, FRONT_DOORS) },
  { files: ['src/gateway.ts'], rules: restrict(FASTIFY, FRONT_DOORS_OF_THE_FACADE) },
  { files: ['src/openai/**'], rules: restrict(FASTIFY, IO) },
  { files: ['src/responses/**'], rules: restrict(FASTIFY, IO) },
  { files: ['src/unix-socket/**'], rules: restrict(FASTIFY, HTTP_FRONT_DOOR) },
  { files: ['src/messages/**'], rules: restrict(FASTIFY, IO) },
  { files: ['src/webhooks/**'], rules: restrict(FASTIFY, WEBHOOKS_FRONT_DOORS) },
);
