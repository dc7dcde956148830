import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { afterAll, beforeAll } from 'vitest';
import type { Provider } from '../../providers/types.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { type Config, loadConfig } from '../../src/config.js';
import { type Gateway } from '../../src/gateway.js';
import { type GatewayConfig, loadGatewayConfig, routingSettings } from '../../src/gateway-config.js';
import { createProviders } from '../../src/providers.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus.js';
import { openGateway, readGatewayConfig } from '../../src/start.js';
import type { OtelTracing } from '../../src/telemetry/otel.js';
import { type Webhooks, prepareWebhooks } from '../../src/webhooks/webhooks.js';
import { type MockUpstream, startMockAnthropic } from './mock-anthropic.js';

export const FAKE_CLAUDE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fake-claude.mjs');

export interface TestGateway {
  app: FastifyInstance;
  config: Config;
  /** The first provider behind the gateway (the CLI's, unless the test gave its own). */
  provider: Provider;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The temporary directory holding HOME, DATA_DIR and the workspace. */
  dir: string;
  home: string;
  openai: OpenAI;
  gateway: Gateway;
  /** Webhooks and observers, started as main starts them. */
  webhooks: Webhooks;
  /** What main does on SIGHUP: GATEWAY_CONFIG read again, its routes and keys taken (throws, keeping the old ones, when it is bad). */
  reload(): void;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** The mock upstream the real CLI talks to. */
  mock?: MockUpstream;
  /** Use the fault-injecting fake CLI instead of the real one. */
  fake?: boolean;
  /** Gateway configuration (the contract's variables), over the test defaults. */
  env?: Record<string, string>;
  /** Extra variables in the environment the CLI's allow-list is taken from. */
  parentEnv?: Record<string, string>;
  /** Reuse a directory (restart tests); removed by close() only when created here. */
  dir?: string;
  /** A provider of the test's own instead of the CLI. */
  provider?: Provider;
  /** Traces to an exporter of the test's own (src/telemetry/otel.ts). */
  tracing?: OtelTracing;
}

const onPath = (cmd: string) =>
  (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, cmd)));

/**
 * Whether the CLI's sandbox for Claude Code tools can run here (bubblewrap and socat on PATH; .ci/run
 * installs them). Without it, test gateways run tools unsandboxed (TOOL_SANDBOX=0) and the tests of the
 * sandbox itself are skipped, except in CI, where they must run.
 */
const TOOL_SANDBOX_ON_HOST = onPath('bwrap') && onPath('socat');
export const RUN_SANDBOX_TESTS = TOOL_SANDBOX_ON_HOST || Boolean(process.env.CI);
if (!RUN_SANDBOX_TESTS) console.warn('bwrap/socat not found: tests of the tool sandbox are skipped (apt-get install bubblewrap socat)');

export function tempDir(prefix = 'gw-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Builds a gateway on a real loopback port with everything isolated in a temporary directory. */
export async function startGateway(opts: GatewayOptions = {}): Promise<TestGateway> {
  const owned = !opts.dir;
  const dir = opts.dir ?? tempDir();
  const home = path.join(dir, 'home');
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: path.join(dir, 'data'),
    CLAUDE_WORKDIR: path.join(dir, 'workspace'),
    LOG_LEVEL: 'silent',
    KILL_GRACE_MS: '500',
    SHUTDOWN_GRACE_MS: '200',
    TOOL_SANDBOX: RUN_SANDBOX_TESTS ? '1' : '0',
    ...(opts.fake ? { CLAUDE_BIN: FAKE_CLAUDE } : {}),
    ...opts.env,
  });
  const log = createLogger(config.logLevel, 'json');
  const parentEnv = {
    PATH: process.env.PATH,
    HOME: home,
    ANTHROPIC_API_KEY: 'sk-test',
    ...(opts.mock ? { ANTHROPIC_BASE_URL: opts.mock.url } : {}),
    ...opts.parentEnv,
  };
  // The CLI, the Anthropic API at the mock's URL (parentEnv has a key) and GATEWAY_CONFIG's providers, unless the test gave its own.
  const gatewayConfig = readGatewayConfig(config, parentEnv);
  const metrics = new PrometheusMetrics();
  const providers = opts.provider ? [opts.provider] : createProviders(config, parentEnv, log, gatewayConfig, metrics);
  const provider = providers[0]!;
  const webhooks = await prepareWebhooks(config, gatewayConfig, log, { metrics });
  const gateway = await openGateway(config, { env: parentEnv, log, gatewayConfig, providers, metrics, tracer: opts.tracing });
  await webhooks.start(gateway);
  const app = await buildApp(config, gateway, { log, configKeys: gatewayConfig?.keys, metrics, tracing: opts.tracing });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const keys = config.apiKeys;

  return {
    app,
    config,
    provider,
    url,
    dir,
    home,
    openai: new OpenAI({ baseURL: `${url}/v1`, apiKey: keys[0]?.secret ?? 'unused', maxRetries: 0 }),
    gateway,
    webhooks,
    reload() {
      const next: GatewayConfig | undefined = config.gatewayConfigFile ? loadGatewayConfig(config.gatewayConfigFile, parentEnv) : undefined;
      if (next) gateway.reconfigure(routingSettings(next));
      app.keyRing.reload(next?.keys);
      webhooks.reconfigure(next);
    },
    async close() {
      // As the gateway's main does: the gateway drains while the app still answers, then the app closes.
      await gateway.shutdown(config.shutdownGraceMs);
      await webhooks.close(config.shutdownGraceMs);
      await app.close();
      if (owned) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the pool has a warm process, which also means the CLI has shown that its long-lived
 * mode works: until then completions run one-shot, so tests of the pooled path wait for this.
 */
export async function waitForWarmPool(gw: TestGateway, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((gw.app.gateway.stats().pool?.warm ?? 0) < 1) {
    if (Date.now() > deadline) throw new Error('the pool did not warm up');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A mock upstream and a gateway running the real CLI against it, for the tests of one file or
 * describe block: started before them, stopped after. Read `ctx.gw` / `ctx.mock` inside tests.
 */
export function useMockGateway(opts: Omit<GatewayOptions, 'mock'> = {}): { mock: MockUpstream; gw: TestGateway } {
  const ctx = {} as { mock: MockUpstream; gw: TestGateway };
  beforeAll(async () => {
    ctx.mock = await startMockAnthropic();
    ctx.gw = await startGateway({ ...opts, mock: ctx.mock });
  });
  afterAll(async () => {
    await ctx.gw?.close();
    await ctx.mock?.close();
  });
  return ctx;
}
