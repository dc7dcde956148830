import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';
import { keyEntrySchema } from './core/keys.js';
import { eventTypeSchema } from './core/process-types.js';

const intFrom = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

/** Comma-separated API keys, `secret` or `id:secret` each. */
const keyList = csv.pipe(z.array(keyEntrySchema));

/** Variables whose values are secrets: a bad one is named, never echoed. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set(['GATEWAY_API_KEYS', 'GATEWAY_ADMIN_KEYS', 'WEBHOOK_SECRET', 'WEBHOOK_URLS']);

/** A browser origin as an Origin header carries it (`scheme://host[:port]`), normalized. */
const webOrigin = z.string().transform((s, ctx) => {
  const u = URL.canParse(s) ? new URL(s) : undefined;
  const bare = u && !u.username && !u.password && u.pathname === '/' && !u.search && !u.hash;
  if (bare && (u.protocol === 'http:' || u.protocol === 'https:')) return u.origin;
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not an origin (http[s]://host[:port])` });
  return z.NEVER;
});

/** A host name the gateway answers as (no port), or `*` for any. */
const hostName = z
  .string()
  .regex(/^(\*|[A-Za-z0-9.-]+)$/, 'must be a host name without port, or *')
  .transform((h) => h.toLowerCase().replace(/\.$/, ''));

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The environment the gateway takes (README → Configuration lists it for users), validated once at start. */
export const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: intFrom(0, 65535).default(8787),
  CLAUDE_BIN: z.string().min(1).optional(),
  CLAUDE_WORKDIR: z.string().min(1).default('./workspace'),
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_DIR: z.string().min(1).optional(),
  CLAUDE_CONFIG_DIR: z.string().min(1).optional(),
  MAX_CONCURRENCY: intFrom(1, 1024).default(4),
  MAX_QUEUE: intFrom(0, 1_000_000).default(100),
  REQUEST_TIMEOUT_MS: intFrom(1).default(600_000),
  AUTO_SESSIONS: z.enum(['0', '1']).default('1'),
  GATEWAY_API_KEYS: keyList.optional(),
  GATEWAY_API_KEYS_FILE: z.string().min(1).refine(existsSync, 'no such file').optional(),
  GATEWAY_ADMIN_KEYS: keyList.default([]),
  ALLOWED_TOOLS: csv.default([]),
  LOG_LEVEL: logLevel.default('info'),
  /** `pretty` (pino-pretty) or `json`; unset: pretty on a terminal, JSON otherwise. */
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  // Extensions beyond the contract's table; documented in README.
  CLAUDE_ENV_PASSTHROUGH: csv.default([]),
  KILL_GRACE_MS: intFrom(0).default(2_000),
  SHUTDOWN_GRACE_MS: intFrom(0).default(10_000),
  BODY_LIMIT_BYTES: intFrom(1024).default(10 * 1024 * 1024),
  MAX_EVENT_LOOP_DELAY_MS: intFrom(0).default(1_000),
  TOOL_WAIT_TTL_MS: intFrom(1).default(120_000),
  MAX_PARKED_RUNS: intFrom(1, 1024).default(4),
  TOOL_SANDBOX: z.enum(['0', '1']).default('1'),
  POOL_SIZE: intFrom(0, 64).default(1),
  POOL_MAX_PROCESSES: intFrom(1, 1024).default(8),
  POOL_HOT_TTL_MS: intFrom(1).default(300_000),
  POOL_MAX_TURNS: intFrom(1).default(100),
  POOL_MAX_RSS_MB: intFrom(64).default(1024),
  POOL_MODEL: z.string().regex(/^[a-z0-9][a-z0-9.\-[\]]*$/, 'must be a model alias or name').default('sonnet'),
  EVENT_RETENTION: intFrom(0).default(10_000),
  PROCESS_RETENTION: intFrom(1).default(10_000),
  REQUEST_RECEIVE_TIMEOUT_MS: intFrom(1).default(30_000),
  ALLOWED_ORIGINS: csv.pipe(z.array(webOrigin)).default([]),
  ALLOWED_HOSTS: csv.pipe(z.array(hostName)).default([]),
  /** Providers, routes, retries, cache, prices and keys (src/gateway-config.ts reads it). */
  GATEWAY_CONFIG: z.string().min(1).refine(existsSync, 'no such file').optional(),
  CACHE_TTL_S: z.coerce.number().min(0).default(0),
  /** The Unix-socket front door's path (src/unix-socket/); unset: no socket. */
  SOCKET_PATH: z.string().min(1).optional(),
  /** 1: GET /metrics needs an API key like the API (when keys are set); default: open like /health. */
  METRICS_REQUIRE_KEY: z.enum(['0', '1']).default('0'),
  /** Webhooks (src/webhooks/): URLs that receive every event, and how deliveries are signed, retried and bounded. */
  WEBHOOK_URLS: csv.pipe(z.array(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }))).default([]),
  WEBHOOK_SECRET: z.string().min(1).optional(),
  WEBHOOK_EVENTS: csv.pipe(z.array(eventTypeSchema)).optional(),
  WEBHOOK_MAX_ATTEMPTS: intFrom(1, 100).default(8),
  WEBHOOK_TIMEOUT_MS: intFrom(1).default(10_000),
  WEBHOOK_BACKOFF_MS: intFrom(0).default(1_000),
  WEBHOOK_MAX_BACKOFF_MS: intFrom(0).default(60_000),
  WEBHOOK_MAX_PENDING: intFrom(1).default(1_000),
});

/** The validated environment turned into the gateway's settings; `Config` is inferred from it. */
export function configSchema(cwd: string) {
  const abs = (p: string) => path.resolve(cwd, p);
  return envSchema.transform((e) => {
    const dataDir = abs(e.DATA_DIR);
    return {
      host: e.HOST,
      port: e.PORT,
      claudeBin: e.CLAUDE_BIN ?? defaultClaudeBin(),
      workdir: abs(e.CLAUDE_WORKDIR),
      dataDir,
      logDir: e.LOG_DIR ? abs(e.LOG_DIR) : path.join(dataDir, 'claude_logs'),
      claudeConfigDir: e.CLAUDE_CONFIG_DIR ? abs(e.CLAUDE_CONFIG_DIR) : path.join(dataDir, 'claude'),
      /** Private per-run files (system prompts), swept at start. */
      tmpDir: path.join(dataDir, 'tmp'),
      maxConcurrency: e.MAX_CONCURRENCY,
      maxQueue: e.MAX_QUEUE,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      /** Requests carrying an earlier exchange continue its session (core/auto-sessions.ts). */
      autoSessions: e.AUTO_SESSIONS === '1',
      apiKeys: e.GATEWAY_API_KEYS ?? [],
      /** Keys that see and cancel everything (they also authenticate). */
      adminKeys: e.GATEWAY_ADMIN_KEYS,
      apiKeysFile: e.GATEWAY_API_KEYS_FILE ? abs(e.GATEWAY_API_KEYS_FILE) : undefined,
      allowedTools: e.ALLOWED_TOOLS,
      logLevel: e.LOG_LEVEL,
      logFormat: e.LOG_FORMAT,
      envPassthrough: e.CLAUDE_ENV_PASSTHROUGH,
      killGraceMs: e.KILL_GRACE_MS,
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      maxEventLoopDelayMs: e.MAX_EVENT_LOOP_DELAY_MS,
      toolWaitTtlMs: e.TOOL_WAIT_TTL_MS,
      toolSandbox: e.TOOL_SANDBOX === '1',
      pool: {
        size: e.POOL_SIZE,
        maxProcesses: e.POOL_MAX_PROCESSES,
        maxParked: e.MAX_PARKED_RUNS,
        hotTtlMs: e.POOL_HOT_TTL_MS,
        maxTurns: e.POOL_MAX_TURNS,
        maxRssMb: e.POOL_MAX_RSS_MB,
        model: e.POOL_MODEL,
      },
      eventRetention: e.EVENT_RETENTION,
      processRetention: e.PROCESS_RETENTION,
      requestReceiveTimeoutMs: e.REQUEST_RECEIVE_TIMEOUT_MS,
      allowedOrigins: e.ALLOWED_ORIGINS,
      allowedHosts: e.ALLOWED_HOSTS,
      /** Absolute; loaded by loadGatewayConfig (src/gateway-config.ts), not here. */
      gatewayConfigFile: e.GATEWAY_CONFIG ? abs(e.GATEWAY_CONFIG) : undefined,
      /** Response cache lifetime in seconds; 0: off unless GATEWAY_CONFIG has `cache:`. */
      cacheTtlS: e.CACHE_TTL_S,
      /** Absolute; the Unix socket listens there when set. */
      socketPath: e.SOCKET_PATH ? abs(e.SOCKET_PATH) : undefined,
      /** Whether /metrics needs a key (it is open otherwise, like /health). */
      metricsRequireKey: e.METRICS_REQUIRE_KEY === '1',
      webhooks: {
        urls: e.WEBHOOK_URLS,
        secret: e.WEBHOOK_SECRET,
        /** Undefined: every type. */
        events: e.WEBHOOK_EVENTS,
        maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
        timeoutMs: e.WEBHOOK_TIMEOUT_MS,
        backoffMs: e.WEBHOOK_BACKOFF_MS,
        maxBackoffMs: Math.max(e.WEBHOOK_MAX_BACKOFF_MS, e.WEBHOOK_BACKOFF_MS),
        maxPending: e.WEBHOOK_MAX_PENDING,
      },
    };
  });
}

export type Config = z.output<ReturnType<typeof configSchema>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The CLI installed with the project: the native binary of `@anthropic-ai/claude-code`'s platform
 * package (present even when npm skipped the wrapper's postinstall), else the wrapper's bin, else
 * `claude` on PATH.
 */
export function defaultClaudeBin(): string {
  const require = createRequire(import.meta.url);
  const tryResolve = (pkg: string, file: string) => {
    try {
      const bin = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
      return existsSync(bin) ? bin : undefined;
    } catch {
      return undefined;
    }
  };
  const platform = `@anthropic-ai/claude-code-${process.platform}-${process.arch}`;
  return (
    tryResolve(platform, 'claude') ??
    tryResolve(`${platform}-musl`, 'claude') ??
    tryResolve('@anthropic-ai/claude-code', path.join('bin', 'claude.exe')) ??
    'claude'
  );
}

/** Validates the environment; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Config {
  // Empty strings mean "unset", as a shell `VAR=` would suggest.
  const cleaned = Object.fromEntries(
    Object.keys(envSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = configSchema(cwd).safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const value = SECRET_VARIABLES.has(name) ? ` (entry ${Number(issue.path[1] ?? 0) + 1})` : `=${JSON.stringify(env[name] ?? '')}`;
    throw new ConfigError(`invalid ${name}${value}: ${issue.message}`);
  }
  return parsed.data;
}
