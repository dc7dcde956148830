import type { z } from 'zod';
import { envSchema } from '../config.js';
import { flagOf } from './args.js';

/** A setting's default as the schema has it, or how it is worked out when it has none. */
function defaultOf(schema: z.ZodType): string {
  const def = (schema as { def?: { type?: string; defaultValue?: unknown } }).def;
  if (def?.type === 'default') {
    const value = def.defaultValue;
    return Array.isArray(value) ? (value.length ? value.join(',') : '(empty)') : String(value);
  }
  return '(unset)';
}

/** `--help`: every setting with its flag, its environment variable and its default, from the schema. */
export function helpText(version: string): string {
  const rows = Object.entries(envSchema.shape).map(([variable, schema]) => [flagOf(variable), variable, defaultOf(schema as z.ZodType)]);
  const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length));
  const lines = rows.map(([flag, variable, def]) => `  ${flag!.padEnd(width(0))}  ${variable!.padEnd(width(1))}  ${def}`);
  return [
    `claude-cli-gateway ${version}: an OpenAI-compatible (and Anthropic, Responses, Unix-socket) gateway in front of the Claude Code CLI`,
    '',
    'Usage:',
    '  claude-cli-gateway [options]          start the gateway in the foreground (SIGTERM/SIGINT stop it)',
    '  claude-cli-gateway check [options]    print what it would run with; exits 1 on a problem',
    '  claude-cli-gateway --help | --version',
    '',
    'Options: each mirrors an environment variable (a flag wins over the environment); -p is --port,',
    '-c is --config (GATEWAY_CONFIG). `--flag value` or `--flag=value`.',
    '',
    `  ${'flag'.padEnd(width(0))}  ${'variable'.padEnd(width(1))}  default`,
    ...lines,
    '',
    'README.md → Configuration says what each does.',
  ].join('\n');
}
