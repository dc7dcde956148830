/**
 * GATEWAY_CONFIG: the file (YAML, or JSON, which the YAML parser reads too) that declares
 * providers, routes, retries, cooldowns, the cache, prices and keys. ARCHITECTURE.md → "Providers,
 * routes, cache and cost" names its fields: they are the contract. Every object is strict, so a
 * typo (`retires:`) is an error naming it rather than a setting silently ignored.
 *
 * Secrets never live in the file: it names the variables that hold them (`api_key_env`,
 * `key_env`), resolved once at load. No message quotes a value of the file or of the environment.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './config.js';
import { type ConfigKey, KEY_ID, keyDigest } from './core/keys.js';
import type { KeyPolicy } from './core/ownership.js';
import type { RetryPolicy as CoreRetryPolicy } from './core/retry-policy.js';
import type { RoutingSettings } from './core/routing.js';

/** The provider the gateway always has; a declared provider cannot take its name. */
const BUILT_IN_PROVIDER = 'claude-cli';

/** Prefixes of `provider/model` targets that need no declaration (the Anthropic one needs ANTHROPIC_API_KEY, checked later). */
const UNDECLARED_PREFIXES: ReadonlySet<string> = new Set([BUILT_IN_PROVIDER, 'anthropic']);

const nonEmpty = z.string().min(1);

/** The name of an environment variable: never the secret itself, which must not be in the file. */
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable (the variable holds the secret)');

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** An HTTP header name (RFC 9110 token); its value must not break the header block. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'is not an HTTP header name');
const headerValue = z.string().regex(/^[^\r\n\0]*$/, 'must not contain line breaks');

const providerName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'a provider name is lowercase letters, digits, _ and - (it is the prefix of provider/model)')
  .refine((n) => n !== BUILT_IN_PROVIDER, `'${BUILT_IN_PROVIDER}' is the built-in provider`);

const providerSchema = z.strictObject({
  type: z.enum(['openai-compatible', 'anthropic']),
  base_url: httpUrl,
  /** The variable holding the provider's API key. */
  api_key_env: envName.optional(),
  /** The models it offers (listed on /v1/models as `<provider>/<model>`). */
  models: z.array(nonEmpty).optional(),
  /** Extra headers sent with every upstream request. */
  headers: z.record(headerName, headerValue).optional(),
});

const retryFields = {
  /** Tries per target, the first one included. */
  attempts: z.number().int().min(1).max(10),
  initial_backoff_ms: z.number().int().min(0),
  max_backoff_ms: z.number().int().min(0),
};
const RETRY_DEFAULTS = { attempts: 3, initial_backoff_ms: 250, max_backoff_ms: 8_000 } as const;

const retrySchema = z.strictObject({
  attempts: retryFields.attempts.default(RETRY_DEFAULTS.attempts),
  initial_backoff_ms: retryFields.initial_backoff_ms.default(RETRY_DEFAULTS.initial_backoff_ms),
  max_backoff_ms: retryFields.max_backoff_ms.default(RETRY_DEFAULTS.max_backoff_ms),
});

const routeName = z
  .string()
  .min(1)
  .refine((n) => !n.includes('/'), "a route name has no '/' (provider/model names are the providers')");

const routeSchema = z.strictObject({
  /** Tried in order: `provider/model`, a CLI alias, … */
  targets: z.array(nonEmpty).min(1),
  /** Overrides the top-level `retry` field by field. */
  retry: z.strictObject(retryFields).partial().optional(),
  /** Deadline of one attempt (an extension of the contract). */
  timeout_ms: z.number().int().positive().optional(),
});

const cooldownSchema = z.strictObject({
  /** Consecutive failures after which a target is skipped… */
  failures: z.number().int().min(1).default(3),
  /** …for this long. */
  seconds: z.number().positive().default(30),
});

const cacheSchema = z.strictObject({
  ttl_s: z.number().positive(),
  max_mb: z.number().positive().default(64),
});

/** USD per million tokens. */
const priceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cache_read: z.number().min(0).optional(),
  cache_write: z.number().min(0).optional(),
});

const keySchema = z
  .strictObject({
    id: z.string().regex(KEY_ID, 'a key id is 1 to 64 of A-Z a-z 0-9 _ . -'),
    /** The variable holding the key's secret… */
    key_env: envName.optional(),
    /** …or the SHA-256 of the secret, in hex. */
    key_sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (the SHA-256 of the key)').optional(),
    admin: z.boolean().default(false),
    budget_usd: z.strictObject({ daily: z.number().positive().optional(), total: z.number().positive().optional() }).optional(),
    /** The model names the key may ask for; absent: all. */
    models: z.array(nonEmpty).optional(),
    webhooks: z.array(httpUrl).optional(),
  })
  .superRefine((k, ctx) => {
    if (k.key_env !== undefined && k.key_sha256 !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'has both key_env and key_sha256: give one' });
    } else if (k.key_env === undefined && k.key_sha256 === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs key_env (a variable holding the key) or key_sha256' });
    }
  });

const keysSchema = z.array(keySchema).superRefine((keys, ctx) => {
  const seen = new Map<string, number>();
  keys.forEach((k, i) => {
    const first = seen.get(k.id);
    if (first === undefined) seen.set(k.id, i);
    else ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `'${k.id}' is also the id of keys[${first}]` });
  });
});

/** A YAML section left empty (`keys:` with every entry commented out) reads as null: taken as absent. */
const section = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema);

/** The file as written, validated, with defaults; secrets not yet resolved (gatewayConfigSchema does that). */
export const gatewayConfigFileSchema = z
  .strictObject({
    providers: section(z.record(providerName, providerSchema).default({})),
    /** Routes: a model name clients send, served by its targets in order. */
    models: section(z.record(routeName, routeSchema).default({})),
    retry: section(retrySchema.prefault({})),
    cooldown: section(cooldownSchema.prefault({})),
    cache: section(cacheSchema.optional()),
    prices: section(z.record(nonEmpty, priceSchema).default({})),
    keys: section(keysSchema.default([])),
    /** Modules observing every event, relative to this file (loaded at start by src/webhooks/observers.ts). */
    observers: section(z.array(nonEmpty).optional()),
  })
  .superRefine((c, ctx) => {
    const backoffOrder = (r: { initial_backoff_ms?: number; max_backoff_ms?: number }, path: PropertyKey[]) => {
      const initial = r.initial_backoff_ms ?? c.retry.initial_backoff_ms;
      const max = r.max_backoff_ms ?? c.retry.max_backoff_ms;
      if (initial > max) {
        ctx.addIssue({ code: 'custom', path, message: `initial_backoff_ms (${initial}) is above max_backoff_ms (${max})` });
      }
    };
    backoffOrder(c.retry, ['retry']);
    for (const [name, route] of Object.entries(c.models)) {
      if (route.retry) backoffOrder(route.retry, ['models', name, 'retry']);
      route.targets.forEach((target, i) => {
        const slash = target.indexOf('/');
        if (slash < 0) return;
        const prefix = target.slice(0, slash);
        if (!UNDECLARED_PREFIXES.has(prefix) && !Object.hasOwn(c.providers, prefix)) {
          ctx.addIssue({
            code: 'custom',
            path: ['models', name, 'targets', i],
            message: `'${target}' names the provider '${prefix}', which is not declared under providers`,
          });
        }
      });
    }
  });

export type GatewayConfigFile = z.output<typeof gatewayConfigFileSchema>;
export type ProviderConfig = z.output<typeof providerSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type RetryPolicy = z.output<typeof retrySchema>;
export type CooldownConfig = z.output<typeof cooldownSchema>;
export type CacheConfig = z.output<typeof cacheSchema>;
export type PriceConfig = z.output<typeof priceSchema>;
export type KeyConfig = z.output<typeof keySchema>;
/** A provider with its key read from the variable `api_key_env` names. Never log it. */
export type ResolvedProvider = ProviderConfig & { apiKey?: string };

/** The value of `name` in `env`, trimmed; undefined when unset or blank. Never quoted in a message. */
const secretFrom = (env: NodeJS.ProcessEnv, name: string) => env[name]?.trim() || undefined;

/**
 * The file's schema, secrets resolved from `env`: providers get `apiKey`, keys become digests with
 * their policy (`ConfigKey`, what the KeyRing takes). A variable named but unset is an error at the
 * field naming it.
 */
export function gatewayConfigSchema(env: NodeJS.ProcessEnv) {
  return gatewayConfigFileSchema.pipe(
    z.transform((c, ctx) => {
      const providers: Record<string, ResolvedProvider> = {};
      for (const [name, p] of Object.entries(c.providers)) {
        if (p.api_key_env === undefined) {
          providers[name] = p;
          continue;
        }
        const apiKey = secretFrom(env, p.api_key_env);
        if (apiKey === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['providers', name, 'api_key_env'],
            message: `the variable ${p.api_key_env} is not set (or empty)`,
          });
        }
        providers[name] = { ...p, apiKey };
      }
      const keys = c.keys.map((k, i): ConfigKey => {
        let digest: Buffer;
        if (k.key_sha256 !== undefined) {
          digest = Buffer.from(k.key_sha256, 'hex');
        } else {
          const secret = secretFrom(env, k.key_env!);
          if (secret === undefined) {
            ctx.addIssue({ code: 'custom', path: ['keys', i, 'key_env'], message: `the variable ${k.key_env} is not set (or empty)` });
          }
          digest = keyDigest(secret ?? '');
        }
        const policy: KeyPolicy = {
          ...(k.budget_usd && { budgetUsd: k.budget_usd }),
          ...(k.models && { models: k.models }),
          ...(k.webhooks && { webhooks: k.webhooks }),
        };
        return { id: k.id, digest, admin: k.admin, policy };
      });
      return { ...c, providers, keys };
    }),
  );
}

/** GATEWAY_CONFIG as the gateway uses it: validated, defaults applied, secrets resolved. */
export type GatewayConfig = z.output<ReturnType<typeof gatewayConfigSchema>>;

const retryPolicy = (r: Partial<RetryPolicy>): Partial<CoreRetryPolicy> => ({
  ...(r.attempts !== undefined && { attempts: r.attempts }),
  ...(r.initial_backoff_ms !== undefined && { initialBackoffMs: r.initial_backoff_ms }),
  ...(r.max_backoff_ms !== undefined && { maxBackoffMs: r.max_backoff_ms }),
});

/**
 * What the core's router takes of the config: routes, the retry policy, cooldowns and prices. A
 * price without cache rates charges cache reads and writes as input (better than no cost at all).
 */
export function routingSettings(c: GatewayConfig): RoutingSettings {
  return {
    routes: Object.fromEntries(
      Object.entries(c.models).map(([name, r]) => [name, { targets: r.targets, retry: r.retry && retryPolicy(r.retry), attemptTimeoutMs: r.timeout_ms }]),
    ),
    retry: retryPolicy(c.retry) as CoreRetryPolicy,
    cooldown: c.cooldown,
    prices: Object.fromEntries(
      Object.entries(c.prices).map(([model, p]) => [
        model,
        { input: p.input, output: p.output, cacheRead: p.cache_read ?? p.input, cacheWrite: p.cache_write ?? p.input },
      ]),
    ),
  };
}

/** `models.smart.targets`, `keys[0].key_env`, `prices["anthropic/claude-sonnet-4-5"].input`. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => {
    if (typeof k === 'number') return `${acc}[${k}]`;
    const name = String(k);
    if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) return acc ? `${acc}.${name}` : name;
    return `${acc}[${JSON.stringify(name)}]`;
  }, '');
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** What the value at the issue's path got wrong, in words that never quote the value. */
function describe(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string }[] {
  const at = (message: string, path: PropertyKey[] = issue.path) => [{ path, message }];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({ path: [...issue.path, k], message: 'unknown field' }));
    case 'invalid_key': {
      // A bad record key (a provider or route name): its own issue, at the key.
      const inner = issue.issues[0];
      return inner ? describe({ ...inner, path: issue.path } as z.core.$ZodIssue) : at('invalid name');
    }
    case 'invalid_type': {
      if (issue.expected === 'int') return at('must be an integer');
      const input = (issue as { input?: unknown }).input;
      if (input === undefined) return at('is required');
      const got = input === null ? 'null' : Array.isArray(input) ? 'a list' : `a ${typeof input}`;
      const expected = { object: 'a mapping', array: 'a list' }[issue.expected as string] ?? `a ${issue.expected}`;
      // YAML reads `0123` or `1e5` as numbers, and `yes`/`no` as booleans.
      const hint = issue.expected === 'string' && got !== 'null' ? ' (quote it)' : '';
      return at(`must be ${expected}, not ${got}${hint}`);
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') return at(`must have at least ${plural(min, 'item')}`);
      if (issue.origin === 'string') return at(min === 1 ? 'must not be empty' : `must have at least ${plural(min, 'character')}`);
      return at(issue.inclusive ? `must be at least ${min}` : `must be greater than ${min}`);
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return at(`must have at most ${plural(max, 'item')}`);
      return at(issue.inclusive ? `must be at most ${max}` : `must be less than ${max}`);
    }
    case 'invalid_value':
      return at(`must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`);
    default:
      return at(issue.message);
  }
}

const MAX_REPORTED = 5;

function fail(file: string, problems: readonly string[]): never {
  const more = problems.length > MAX_REPORTED ? `; and ${problems.length - MAX_REPORTED} more` : '';
  throw new ConfigError(`GATEWAY_CONFIG ${file}: ${problems.slice(0, MAX_REPORTED).join('; ')}${more}`);
}

/**
 * Validates the text of a GATEWAY_CONFIG file (`file` names it in messages) and resolves its
 * secrets from `env`. Throws ConfigError naming the file and each bad field (at most five).
 */
export function parseGatewayConfig(source: string, file: string, env: NodeJS.ProcessEnv): GatewayConfig {
  const doc = parseDocument(source);
  if (doc.errors.length > 0) {
    // The parser's message ends with the offending line quoted; that line could hold anything, so
    // only its position is reported.
    fail(
      file,
      doc.errors.map((err) => {
        const what = err.message.split(/ at line \d+, column \d+/)[0]!.split('\n')[0]!;
        const pos = err.linePos?.[0];
        return pos ? `line ${pos.line}, column ${pos.col}: ${what}` : what;
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (err) {
    // An alias expanding too far, say.
    fail(file, [err instanceof Error ? err.message : String(err)]);
  }
  // The input on issues says what a bad value was (a string, a list…); the value itself is never printed.
  const parsed = gatewayConfigSchema(env).safeParse(data, { reportInput: true });
  if (parsed.success) return parsed.data;
  fail(
    file,
    parsed.error.issues.flatMap(describe).map(({ path, message }) => (path.length ? `${fieldPath(path)}: ${message}` : message)),
  );
}

/** Reads and validates the GATEWAY_CONFIG file; throws ConfigError naming the file (and the field) on any problem. */
export function loadGatewayConfig(file: string, env: NodeJS.ProcessEnv): GatewayConfig {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`GATEWAY_CONFIG ${file}: cannot be read (${e.code ?? e.message})`);
  }
  return parseGatewayConfig(source, file, env);
}
