import { AnthropicProvider } from '../providers/anthropic/index.js';
import { anthropicSettings } from '../providers/anthropic/env.js';
import { ClaudeCliProvider } from '../providers/claude-cli/index.js';
import { resolveModel } from '../providers/claude-cli/models.js';
import { OpenAICompatibleProvider } from '../providers/openai-compatible/index.js';
import type { Provider } from '../providers/types.js';
import type { Config } from './config.js';
import type { Logger } from './core/logger.js';
import { DEFAULT_RETRY } from './core/retry-policy.js';
import type { GatewayConfig, ResolvedProvider } from './gateway-config.js';

/**
 * The providers the configuration and `env` describe, in registry order: the Claude CLI (`env` is
 * what its allow-list is taken from), the Anthropic API when `env` has a credential for it, then
 * those GATEWAY_CONFIG declares.
 */
export function createProviders(config: Config, env: NodeJS.ProcessEnv, log: Logger, gatewayConfig?: GatewayConfig, metrics?: ProviderMetrics): Provider[] {
  const anthropic = anthropicSettings(env);
  const declared = Object.entries(gatewayConfig?.providers ?? {}).map(([name, p]) => declaredProvider(name, p));
  const attempts = gatewayConfig?.retry.attempts ?? DEFAULT_RETRY.attempts;
  return [createCliProvider(config, env, log, attempts - 1, metrics), ...(anthropic ? [new AnthropicProvider(anthropic)] : []), ...declared];
}

function declaredProvider(name: string, p: ResolvedProvider): Provider {
  if (p.type === 'anthropic') return new AnthropicProvider({ name, baseUrl: p.base_url, apiKey: p.apiKey, models: p.models, headers: p.headers });
  return new OpenAICompatibleProvider({ name, baseUrl: p.base_url, apiKey: p.apiKey, models: p.models, headers: p.headers });
}

/** What the providers report to the metrics (src/metrics/). */
export interface ProviderMetrics {
  cliSpawned(mode: 'pooled' | 'one_shot', startupSeconds?: number): void;
}

function createCliProvider(config: Config, env: NodeJS.ProcessEnv, log: Logger, maxRetries: number, metrics?: ProviderMetrics): Provider {
  return new ClaudeCliProvider({
    bin: config.claudeBin,
    claudeConfigDir: config.claudeConfigDir,
    envPassthrough: config.envPassthrough,
    toolSandbox: config.toolSandbox,
    killGraceMs: config.killGraceMs,
    allowedTools: config.allowedTools,
    tmpDir: config.tmpDir,
    parentEnv: env,
    maxRetries,
    onError: (err) => log.error({ err }, 'a warm Claude CLI process could not be started'),
    onSpawn: metrics && ((mode, seconds) => metrics.cliSpawned(mode, seconds)),
    pool: {
      size: config.pool.size,
      maxProcesses: config.pool.maxProcesses,
      maxParked: config.pool.maxParked,
      hotTtlMs: config.pool.hotTtlMs,
      maxTurns: config.pool.maxTurns,
      maxRssMb: config.pool.maxRssMb,
      // The profile of a plain request (no system prompt, no tools) for the pool's model.
      defaultProfile: {
        model: resolveModel(config.pool.model) ?? config.pool.model,
        toolPolicy: { tools: [], allowed: [], disallowed: [] },
        cwd: config.workdir,
        clientTools: [],
        parallelToolCalls: true,
      },
    },
  });
}
