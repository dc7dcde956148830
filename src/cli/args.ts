import { envSchema } from '../config.js';

/** What the command line asks for: run the gateway, check its setup, or print help or the version. */
export interface Invocation {
  command: 'start' | 'check' | 'help' | 'version';
  /** Settings given as flags, by environment variable: they win over the environment. */
  env: Record<string, string>;
}

/** A flag the gateway has no setting for, or a setting without its value. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Short and familiar names for the settings used most. */
const ALIASES: Readonly<Record<string, string>> = {
  '-p': 'PORT',
  '--port': 'PORT',
  '--host': 'HOST',
  '-c': 'GATEWAY_CONFIG',
  '--config': 'GATEWAY_CONFIG',
};

/** Every setting's variable: the environment schema is the one list. */
export const SETTINGS: readonly string[] = Object.keys(envSchema.shape);

/** `--data-dir` ↔ `DATA_DIR`. */
export const flagOf = (variable: string): string => `--${variable.toLowerCase().replaceAll('_', '-')}`;

function variableOf(flag: string): string | undefined {
  if (Object.hasOwn(ALIASES, flag)) return ALIASES[flag];
  const variable = flag.replace(/^--/, '').toUpperCase().replaceAll('-', '_');
  return flag.startsWith('--') && SETTINGS.includes(variable) ? variable : undefined;
}

/**
 * Reads `claude-cli-gateway [check] [--flag value | --flag=value]… [--help] [--version]`: every
 * flag mirrors an environment variable (`--max-concurrency 8` is MAX_CONCURRENCY=8).
 */
export function parseArgs(argv: readonly string[]): Invocation {
  const env: Record<string, string> = {};
  let command: Invocation['command'] = 'start';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { command: 'help', env };
    if (arg === '--version' || arg === '-v') return { command: 'version', env };
    if (arg === 'check' && command === 'start') {
      command = 'check';
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const variable = variableOf(flag);
    if (!variable) throw new UsageError(`unknown ${arg.startsWith('-') ? 'option' : 'command'} '${flag}' (see --help)`);
    // `--port --host x` forgot the port's value (`--flag=--x` gives one that starts with --).
    const value = eq > 0 ? arg.slice(eq + 1) : argv[i + 1]?.startsWith('--') ? undefined : argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    env[variable] = value;
  }
  return { command, env };
}
