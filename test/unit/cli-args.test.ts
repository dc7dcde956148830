// The command line (src/cli/): flags mirror the environment, help lists every setting.
import { describe, expect, it } from 'vitest';
import { SETTINGS, UsageError, flagOf, parseArgs } from '../../src/cli/args.js';
import { helpText } from '../../src/cli/help.js';
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
  });
});

describe('helpText', () => {
  it('lists every setting of the environment schema with its flag and default', () => {
    const help = helpText('1.2.3');
    expect(SETTINGS).toEqual(Object.keys(envSchema.shape));
    for (const variable of SETTINGS) expect(help).toMatch(new RegExp(`${flagOf(variable)}\\s+${variable}\\s`));
    expect(help).toMatch(/--port\s+PORT\s+8787/);
    expect(help).toMatch(/--max-concurrency\s+MAX_CONCURRENCY\s+4/);
    expect(help).toMatch(/--gateway-config\s+GATEWAY_CONFIG\s+\(unset\)/);
  });
});
