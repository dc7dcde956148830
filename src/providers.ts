import { AnthropicProvider } from '../providers/anthropic/index.js';
import { anthropicSettings } from '../providers/anthropic/env.js';
import { ClaudeCliProvider } from '../providers/claude-cli/index.js';
import { resolveModel } from '../providers/claude-cli/models.js';
import type { Provider } from '../providers/types.js';
import type { Config } from './config.js';
import type { Logger } from './core/logger.js';

/**
 * The providers the configuration and `env` describe, in registry order: the Claude CLI (`env` is
 * what its allow-list is taken from), then the Anthropic API when `env` has a credential for it.
 */
export function createProviders(config: Config, env: NodeJS.ProcessEnv, log: Logger): Provider[] {
  const anthropic = anthropicSettings(env);
  return [createCliProvider(config, env, log), ...(anthropic ? [new AnthropicProvider(anthropic)] : [])];
}

function createCliProvider(config: Config, env: NodeJS.ProcessEnv, log: Logger): Provider {
  return new ClaudeCliProvider({
    bin: config.claudeBin,
    claudeConfigDir: config.claudeConfigDir,
    envPassthrough: config.envPassthrough,
    toolSandbox: config.toolSandbox,
    killGraceMs: config.killGraceMs,
    allowedTools: config.allowedTools,
    tmpDir: config.tmpDir,
    parentEnv: env,
    onError: (err) => log.error({ err }, 'a warm Claude CLI process could not be started'),
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
