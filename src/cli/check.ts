import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { missingCredentials } from '../../providers/claude-cli/credentials.js';
import { childEnv } from '../../providers/claude-cli/env.js';
import { type Config, loadConfig } from '../config.js';
import type { GatewayConfig } from '../gateway-config.js';
import { readGatewayConfig } from '../start.js';

/** One line of the report; a problem makes `check` exit non-zero. */
export interface CheckLine {
  what: string;
  detail: string;
  problem?: boolean;
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
  const version = spawnSync(config.claudeBin, ['--version'], { encoding: 'utf8', timeout: CLI_VERSION_TIMEOUT_MS });
  const found = !version.error && version.status === 0 && version.stdout.trim();
  lines.push(
    found
      ? { what: 'Claude CLI', detail: `${config.claudeBin} (${version.stdout.trim()})` }
      : { what: 'Claude CLI', detail: `${config.claudeBin}: ${version.error?.message ?? `exited ${version.status}: ${version.stderr.trim().slice(0, 200)}`}`, problem: true },
  );
  const childEnvironment = childEnv(env, { claudeConfigDir: config.claudeConfigDir, passthrough: config.envPassthrough });
  const missing = missingCredentials(childEnvironment, config.claudeConfigDir);
  lines.push({ what: 'credentials', detail: missing ?? 'present (a key or token in the environment, or a login)', problem: missing !== undefined });
  const providers = ['claude-cli', ...(env.ANTHROPIC_API_KEY?.trim() || env.ANTHROPIC_AUTH_TOKEN?.trim() ? ['anthropic'] : []), ...Object.keys(gatewayConfig?.providers ?? {})];
  lines.push({ what: 'providers', detail: providers.join(', ') });
  lines.push({ what: 'routes', detail: Object.keys(gatewayConfig?.models ?? {}).join(', ') || '(none)' });
  const keys = config.apiKeys.length + config.adminKeys.length + (gatewayConfig?.keys.length ?? 0);
  lines.push({ what: 'API keys', detail: keys || config.apiKeysFile ? `${keys} (+ ${config.apiKeysFile ?? 'no key file'})` : 'none: every request is the one user' });
  lines.push({ what: 'pool', detail: `POOL_SIZE=${config.pool.size}, POOL_MAX_PROCESSES=${config.pool.maxProcesses}, MAX_CONCURRENCY=${config.maxConcurrency}` });
  const dataProblem = writable(config.dataDir);
  lines.push({ what: 'DATA_DIR', detail: dataProblem ? `${config.dataDir} is not writable (${dataProblem})` : config.dataDir, problem: dataProblem !== undefined });
  return lines;
}

/** The report as text, `ok`/`PROBLEM` per line. */
export function formatCheck(lines: readonly CheckLine[]): string {
  const width = Math.max(...lines.map((l) => l.what.length));
  return lines.map((l) => `${l.problem ? 'PROBLEM' : 'ok     '} ${l.what.padEnd(width)}  ${l.detail}`).join('\n');
}
