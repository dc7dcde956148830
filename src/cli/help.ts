import type { z } from 'zod';
import { envSchema } from '../config.js';
import { flagOf } from './args.js';

/** What an unset setting without a schema default comes to (config.ts works it out). */
export const WHEN_UNSET: Readonly<Record<string, string>> = {
  CLAUDE_BIN: 'the CLI installed with the project, else claude on PATH',
  LOG_DIR: '$DATA_DIR/claude_logs',
  CLAUDE_CONFIG_DIR: '$DATA_DIR/claude',
  LOG_FORMAT: 'pretty on a terminal, else json',
  GATEWAY_API_KEYS: 'no key needed',
  WEBHOOK_EVENTS: 'every type',
  SOCKET_PATH: 'no Unix socket',
};

interface SchemaDef {
  type?: string;
  defaultValue?: unknown;
  innerType?: { def?: SchemaDef };
  entries?: Record<string, string>;
}

const defOf = (schema: z.ZodType): SchemaDef => (schema as { def?: SchemaDef }).def ?? {};

/** A setting's default as the schema has it, or what it comes to when it has none. */
export function defaultOf(variable: string, schema: z.ZodType): string {
  const def = defOf(schema);
  if (def.type === 'default') {
    const value = def.defaultValue;
    return Array.isArray(value) ? (value.length ? value.join(',') : '(empty)') : String(value);
  }
  return Object.hasOwn(WHEN_UNSET, variable) ? `(unset: ${WHEN_UNSET[variable]})` : '(unset)';
}

/** The values an enum setting takes (`pretty|json`), from the schema; empty for the others. */
function choicesOf(schema: z.ZodType): string {
  let def = defOf(schema);
  while ((def.type === 'default' || def.type === 'optional') && def.innerType?.def) def = def.innerType.def;
  return def.type === 'enum' && def.entries ? ` [${Object.values(def.entries).join('|')}]` : '';
}

/** `--help`: every setting with its flag, its environment variable and its default, from the schema. */
export function helpText(version: string): string {
  const rows = Object.entries(envSchema.shape).map(([variable, schema]) => [
    flagOf(variable),
    variable,
    defaultOf(variable, schema as z.ZodType) + choicesOf(schema as z.ZodType),
  ]);
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
