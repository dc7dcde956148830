import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { derivedKeyId } from '../../src/core/keys.js';

const run = promisify(execFile);

describe('configuration from the environment', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({}, '/srv/gw');
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8787,
      workdir: '/srv/gw/workspace',
      dataDir: '/srv/gw/data',
      logDir: '/srv/gw/data/claude_logs',
      claudeConfigDir: '/srv/gw/data/claude',
      maxConcurrency: 4,
      maxQueue: 100,
      requestTimeoutMs: 600_000,
      apiKeys: [],
      allowedTools: [],
      logLevel: 'info',
    });
    expect(c.claudeBin).toMatch(/claude/);
  });

  it('reads every variable', () => {
    const c = loadConfig(
      {
        HOST: '0.0.0.0',
        PORT: '9000',
        CLAUDE_BIN: '/opt/claude',
        CLAUDE_WORKDIR: 'w',
        DATA_DIR: '/d',
        LOG_DIR: '/logs',
        MAX_CONCURRENCY: '2',
        MAX_QUEUE: '0',
        REQUEST_TIMEOUT_MS: '1000',
        GATEWAY_API_KEYS: 'a, b,,c',
        ALLOWED_TOOLS: 'Bash,Read',
        CLAUDE_CONFIG_DIR: '/cfg',
        LOG_LEVEL: 'debug',
      },
      '/x',
    );
    expect(c).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      claudeBin: '/opt/claude',
      workdir: '/x/w',
      dataDir: '/d',
      logDir: '/logs',
      claudeConfigDir: '/cfg',
      maxConcurrency: 2,
      maxQueue: 0,
      requestTimeoutMs: 1000,
      apiKeys: ['a', 'b', 'c'].map((secret) => ({ id: derivedKeyId(secret), secret })),
      allowedTools: ['Bash', 'Read'],
      logLevel: 'debug',
    });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['MAX_CONCURRENCY', '0'],
    ['MAX_QUEUE', '-1'],
    ['REQUEST_TIMEOUT_MS', '1.5'],
    ['LOG_LEVEL', 'loud'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^invalid ${name}=`));
  });

  it('makes the gateway exit non-zero with one line naming the variable', async () => {
    const main = path.resolve(import.meta.dirname, '../../src/main.ts');
    const tsx = path.resolve(import.meta.dirname, '../../node_modules/.bin/tsx');
    const err = await run(tsx, [main], { env: { PATH: process.env.PATH, MAX_CONCURRENCY: 'many' } }).catch((e) => e);
    expect(err.code).not.toBe(0);
    expect(err.stderr.trim().split('\n')).toHaveLength(1);
    expect(err.stderr).toMatch(/MAX_CONCURRENCY/);
  });
});
