// The command line (src/cli/): flags mirror the environment, help lists every setting.
import { describe, expect, it } from 'vitest';
import { SETTINGS, UsageError, flagOf, parseArgs } from '../../src/cli/args.js';
import { WHEN_UNSET, helpText } from '../../src/cli/help.js';
import { envSchema } from '../../src/config.js';
import { thrown } from './thrown.js';

describe('parseArgs', () => {
  it('maps every flag to its variable, with the value after it or after =', () => {
    expect(parseArgs(['--port', '9000', '--data-dir=/tmp/d', '--max-concurrency', '8'])).toEqual({
      command: 'start',
      env: { PORT: '9000', DATA_DIR: '/tmp/d', MAX_CONCURRENCY: '8' },
    });
    expect(parseArgs(['-p', '1', '-c', 'gw.yaml', '--host', '0.0.0.0']).env).toEqual({ PORT: '1', GATEWAY_CONFIG: 'gw.yaml', HOST: '0.0.0.0' });
  });

  it('reads check, --help and --version', () => {
    expect(parseArgs(['check', '--config', 'x.yaml'])).toEqual({ command: 'check', env: { GATEWAY_CONFIG: 'x.yaml' } });
    expect(parseArgs(['--help']).command).toBe('help');
    expect(parseArgs(['-v']).command).toBe('version');
  });

  it('refuses an unknown flag or command, and a flag without its value, naming it', () => {
    expect((thrown(() => parseArgs(['--prot', '1'])) as Error).message).toContain("'--prot'");
    expect(thrown(() => parseArgs(['serve']))).toBeInstanceOf(UsageError);
    expect((thrown(() => parseArgs(['--port'])) as Error).message).toBe('--port needs a value');
    expect((thrown(() => parseArgs(['--port', '--host', 'h'])) as Error).message).toBe('--port needs a value');
    expect(parseArgs(['--webhook-secret=--odd']).env).toEqual({ WEBHOOK_SECRET: '--odd' });
  });

  it('knows only the settings of the schema: no flag for a credential or anything else', () => {
    expect((thrown(() => parseArgs(['--anthropic-api-key', 'sk'])) as Error).message).toContain("unknown option '--anthropic-api-key'");
    expect(thrown(() => parseArgs(['-x']))).toBeInstanceOf(UsageError);
  });
});

describe('helpText', () => {
  it('lists every setting of the environment schema with its flag and default', () => {
    const help = helpText('1.2.3');
    expect(SETTINGS).toEqual(Object.keys(envSchema.shape));
    const row = (variable: string) => help.split('\n').find((l) => new RegExp(`^\\s+${flagOf(variable)}\\s+${variable}\\s`).test(l));
    for (const [variable, schema] of Object.entries(envSchema.shape)) {
      // The default the schema gives an unset variable, or "(unset…)" when it gives none.
      const unset = (schema as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(undefined);
      const value = unset.success ? unset.data : undefined;
      const shown = value === undefined ? '(unset' : Array.isArray(value) ? (value.length ? value.join(',') : '(empty)') : String(value);
      expect(row(variable), variable).toMatch(new RegExp(`\\s${shown.replace(/[()[\]|$]/g, '\\$&')}`));
    }
    expect(help).toMatch(/--port\s+PORT\s+8787/);
    expect(help).toMatch(/--max-concurrency\s+MAX_CONCURRENCY\s+4/);
    expect(help).toMatch(/--gateway-config\s+GATEWAY_CONFIG\s+\(unset\)/);
    expect(help).toMatch(/--allowed-tools\s+ALLOWED_TOOLS\s+\(empty\)/);
    expect(help).toMatch(/--log-dir\s+LOG_DIR\s+\(unset: \$DATA_DIR\/claude_logs\)/);
    expect(help).toMatch(/--log-level\s+LOG_LEVEL\s+info \[fatal\|error\|warn\|info\|debug\|trace\|silent\]/);
    expect(help).toMatch(/--log-format\s+LOG_FORMAT\s+\(unset: pretty on a terminal, else json\) \[pretty\|json\]/);
  });

  it('says what an unset setting comes to only for settings that exist', () => {
    for (const variable of Object.keys(WHEN_UNSET)) expect(SETTINGS).toContain(variable);
  });
});
