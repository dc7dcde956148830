import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { anthropicSettings } from '../../providers/anthropic/env.js';
import { missingCredentials } from '../../providers/claude-cli/credentials.js';
import { childEnv } from '../../providers/claude-cli/env.js';
import { type Config, loadConfig } from '../config.js';
import type { GatewayConfig } from '../gateway-config.js';
import { KeyRing } from '../http/auth.js';
import { readGatewayConfig } from '../start.js';

/**
 * One line of the report. A problem (the gateway would not start, or could not serve) makes `check`
 * exit non-zero; a warning (it would start, but an operator should know) does not.
 */
export interface CheckLine {
  what: string;
  detail: string;
  problem?: boolean;
  warning?: boolean;
}

const CLI_VERSION_TIMEOUT_MS = 15_000;

/** Whether the gateway could write under `dir` (made if missing, as the start would). */
function writable(dir: string): string | undefined {
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/**
 * What the gateway would run with, as `claude-cli-gateway check` prints it: the CLI and its version,
 * whether it has credentials (names only, never values), the providers, routes and keys of
 * GATEWAY_CONFIG, the pool, and whether DATA_DIR is writable. Nothing is started.
 */
export function checkSetup(env: NodeJS.ProcessEnv): CheckLine[] {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    return [{ what: 'configuration', detail: err instanceof Error ? err.message : String(err), problem: true }];
  }
  const lines: CheckLine[] = [];
  let gatewayConfig: GatewayConfig | undefined;
  try {
    gatewayConfig = readGatewayConfig(config, env);
    lines.push({ what: 'GATEWAY_CONFIG', detail: config.gatewayConfigFile ?? '(none)' });
  } catch (err) {
    lines.push({ what: 'GATEWAY_CONFIG', detail: err instanceof Error ? err.message : String(err), problem: true });
  }
  // Run as the provider runs it (providers/claude-cli: its check), with the environment it gives the CLI.
  const childEnvironment = childEnv(env, { claudeConfigDir: config.claudeConfigDir, passthrough: config.envPassthrough });
  const version = spawnSync(config.claudeBin, ['--version'], { encoding: 'utf8', timeout: CLI_VERSION_TIMEOUT_MS, env: childEnvironment, stdio: ['ignore', 'pipe', 'pipe'] });
  const printed = version.stdout?.trim();
  const failure =
    (version.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT'
      ? `\`--version\` did not answer within ${CLI_VERSION_TIMEOUT_MS / 1000} s`
      : version.error
        ? `not found or not executable (${(version.error as NodeJS.ErrnoException).code ?? version.error.message})`
        : version.status !== 0 || !printed
          ? `\`--version\` exited ${version.status ?? version.signal}: ${(version.stderr || version.stdout).trim().slice(0, 200) || 'no output'}`
          : undefined;
  lines.push(
    failure
      ? { what: 'Claude CLI', detail: `${config.claudeBin}: ${failure}`, problem: true }
      : { what: 'Claude CLI', detail: `${config.claudeBin} (${printed})` },
  );
  const missing = missingCredentials(childEnvironment, config.claudeConfigDir);
  // A warning, as at start and on /ready: the CLI may have its own configuration (a mock, a proxy).
  lines.push({ what: 'credentials', detail: missing ?? 'present (a key or token in the environment, or a login)', warning: missing !== undefined });
  // The providers as src/providers.ts makes them: the CLI, the Anthropic API when the environment has its credential, GATEWAY_CONFIG's.
  try {
    const providers = ['claude-cli', ...(anthropicSettings(env) ? ['anthropic'] : []), ...Object.keys(gatewayConfig?.providers ?? {})];
    lines.push({ what: 'providers', detail: providers.join(', ') });
  } catch (err) {
    lines.push({ what: 'providers', detail: err instanceof Error ? err.message : String(err), problem: true });
  }
  // The models GATEWAY_CONFIG routes (each to its targets, in order); every provider's own models come on top.
  const routes = Object.entries(gatewayConfig?.models ?? {}).map(([name, r]) => `${name} → ${r.targets.join(' | ')}`);
  lines.push({ what: 'models', detail: routes.length ? `${routes.join('; ')} (and each provider's own)` : "each provider's own (no routes)" });
  // As the start reads them (GATEWAY_API_KEYS, GATEWAY_ADMIN_KEYS, the key file, GATEWAY_CONFIG's keys): counted, never shown.
  try {
    const ring = new KeyRing({ api: config.apiKeys, admin: config.adminKeys, config: gatewayConfig?.keys }, config.apiKeysFile);
    lines.push({ what: 'API keys', detail: ring.enabled ? `${ring.reload()}, required on /v1` : 'none: every request is the one user' });
  } catch (err) {
    lines.push({ what: 'API keys', detail: err instanceof Error ? err.message : String(err), problem: true });
  }
  lines.push({ what: 'pool', detail: `POOL_SIZE=${config.pool.size}, POOL_MAX_PROCESSES=${config.pool.maxProcesses}, MAX_CONCURRENCY=${config.maxConcurrency}` });
  const dataProblem = writable(config.dataDir);
  lines.push({ what: 'DATA_DIR', detail: dataProblem ? `${config.dataDir} is not writable (${dataProblem})` : config.dataDir, problem: dataProblem !== undefined });
  return lines;
}

/** The report as text, `ok`, `WARNING` or `PROBLEM` per line. */
export function formatCheck(lines: readonly CheckLine[]): string {
  const width = Math.max(...lines.map((l) => l.what.length));
  const status = (l: CheckLine) => (l.problem ? 'PROBLEM' : l.warning ? 'WARNING' : 'ok').padEnd(7);
  return lines.map((l) => `${status(l)} ${l.what.padEnd(width)}  ${l.detail}`).join('\n');
}
