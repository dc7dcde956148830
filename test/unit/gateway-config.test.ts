// GATEWAY_CONFIG: the file's contract fields, its defaults, and errors that name the file and the field.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { keyTable, matchKey } from '../../src/core/keys.js';
import { type GatewayConfig, loadGatewayConfig, routingSettings } from '../../src/gateway-config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes `text` to a fresh file and returns its path. */
const file = (text: string, ext = 'yaml') => {
  const f = path.join(dir, `gw-${++n}.${ext}`);
  writeFileSync(f, text);
  return f;
};

const ENV = { LOCAL_API_KEY: 'sk-local-provider-secret', TEAM_A_KEY: 'team-a-secret' };
const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** The example of ARCHITECTURE.md → GATEWAY_CONFIG, verbatim. */
const EXAMPLE = `
providers:
  local:                              # the prefix clients use: local/<model>
    type: openai-compatible           # or: anthropic
    base_url: http://127.0.0.1:9000/v1
    api_key_env: LOCAL_API_KEY        # name of the variable holding the key; never a key in the file
models:
  smart:                              # a route: clients send model "smart"
    targets: [anthropic/claude-sonnet-4-5, claude-cli/sonnet]
    retry: { attempts: 2 }            # overrides the default below
retry: { attempts: 3, initial_backoff_ms: 250, max_backoff_ms: 8000 }   # attempts per target, first try included
cooldown: { failures: 3, seconds: 30 }
cache: { ttl_s: 300, max_mb: 64 }
prices:                               # USD per million tokens
  anthropic/claude-sonnet-4-5: { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 }
keys:
  - id: team-a
    key_env: TEAM_A_KEY               # or key_sha256: <hex>
    admin: false
    budget_usd: { daily: 5, total: 100 }
    models: [smart, sonnet]           # optional allow-list
    webhooks: [http://127.0.0.1:9100/hook]
`;

/** The error loading `text` gives: a ConfigError whose message names the file. */
const failure = (text: string, env: NodeJS.ProcessEnv = ENV, ext = 'yaml') => {
  const f = file(text, ext);
  let thrown: unknown;
  try {
    loadGatewayConfig(f, env);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  const message = (thrown as Error).message;
  expect(message.startsWith(`GATEWAY_CONFIG ${f}: `)).toBe(true);
  return message.slice(`GATEWAY_CONFIG ${f}: `.length);
};

const expectExample = (c: GatewayConfig) => {
  expect(c.providers).toEqual({
    local: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9000/v1', api_key_env: 'LOCAL_API_KEY', apiKey: ENV.LOCAL_API_KEY },
  });
  expect(c.models).toEqual({ smart: { targets: ['anthropic/claude-sonnet-4-5', 'claude-cli/sonnet'], retry: { attempts: 2 } } });
  expect(c.retry).toEqual({ attempts: 3, initial_backoff_ms: 250, max_backoff_ms: 8000 });
  expect(c.cooldown).toEqual({ failures: 3, seconds: 30 });
  expect(c.cache).toEqual({ ttl_s: 300, max_mb: 64 });
  expect(c.prices).toEqual({ 'anthropic/claude-sonnet-4-5': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 } });
  expect(c.keys).toEqual([
    {
      id: 'team-a',
      digest: sha256(ENV.TEAM_A_KEY),
      admin: false,
      policy: { budgetUsd: { daily: 5, total: 100 }, models: ['smart', 'sonnet'], webhooks: ['http://127.0.0.1:9100/hook'] },
    },
  ]);
};

describe('GATEWAY_CONFIG', () => {
  it('reads the example of the contract, resolving its secrets from the environment', () => {
    const c = loadGatewayConfig(file(EXAMPLE), ENV);
    expectExample(c);
    const routing = routingSettings(c);
    expect(routing.routes.smart!.retry).toEqual({ attempts: 2 });
    expect(routing.retry).toEqual({ attempts: 3, initialBackoffMs: 250, maxBackoffMs: 8000 });
    // The resolved key is what the key table takes: the secret matches, with its policy.
    expect(matchKey(keyTable([], [], c.keys), ENV.TEAM_A_KEY)).toEqual({ keyId: 'team-a', admin: false, policy: c.keys[0]!.policy });
  });

  it('reads the same as JSON', () => {
    const json = {
      providers: { local: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9000/v1', api_key_env: 'LOCAL_API_KEY' } },
      models: { smart: { targets: ['anthropic/claude-sonnet-4-5', 'claude-cli/sonnet'], retry: { attempts: 2 } } },
      retry: { attempts: 3, initial_backoff_ms: 250, max_backoff_ms: 8000 },
      cooldown: { failures: 3, seconds: 30 },
      cache: { ttl_s: 300, max_mb: 64 },
      prices: { 'anthropic/claude-sonnet-4-5': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 } },
      keys: [
        {
          id: 'team-a',
          key_env: 'TEAM_A_KEY',
          admin: false,
          budget_usd: { daily: 5, total: 100 },
          models: ['smart', 'sonnet'],
          webhooks: ['http://127.0.0.1:9100/hook'],
        },
      ],
    };
    expectExample(loadGatewayConfig(file(JSON.stringify(json, null, 2), 'json'), ENV));
  });

  it('has defaults, for every section absent and every field left out', () => {
    for (const text of ['', '{}', 'keys:\nproviders:\n']) {
      expect(loadGatewayConfig(file(text), {})).toEqual({
        providers: {},
        models: {},
        retry: { attempts: 3, initial_backoff_ms: 250, max_backoff_ms: 8000 },
        cooldown: { failures: 3, seconds: 30 },
        prices: {},
        keys: [],
      });
    }
    const c = loadGatewayConfig(
      file(`
providers:
  up: { type: anthropic, base_url: "https://api.example.com", models: [m1], headers: { x-team: a } }
models:
  fast: { targets: [up/m1, sonnet], timeout_ms: 5000 }
retry: { attempts: 5 }
cooldown: { seconds: 2.5 }
cache: { ttl_s: 60 }
keys:
  - { id: root, key_sha256: ${'AB'.repeat(32)}, admin: true }
observers: [./observers/log.js]
`),
      {},
    );
    expect(c.providers.up).toEqual({ type: 'anthropic', base_url: 'https://api.example.com', models: ['m1'], headers: { 'x-team': 'a' } });
    expect(c.providers.up!.apiKey).toBeUndefined();
    expect(c.models.fast).toEqual({ targets: ['up/m1', 'sonnet'], timeout_ms: 5000 });
    expect(c.retry).toEqual({ attempts: 5, initial_backoff_ms: 250, max_backoff_ms: 8000 });
    expect(c.cooldown).toEqual({ failures: 3, seconds: 2.5 });
    expect(c.cache).toEqual({ ttl_s: 60, max_mb: 64 });
    expect(c.keys).toEqual([{ id: 'root', digest: Buffer.from('ab'.repeat(32), 'hex'), admin: true, policy: {} }]);
    expect(c.observers).toEqual(['./observers/log.js']);
  });

  it('refuses an unknown field, naming it', () => {
    expect(failure('models:\n  smart:\n    targets: [sonnet]\n    retires: { attempts: 2 }\n')).toBe('models.smart.retires: unknown field');
    expect(failure('retry: { attempts: 2, backoff: 1 }\n')).toBe('retry.backoff: unknown field');
    expect(failure('provider: {}\n')).toBe('provider: unknown field');
    expect(failure('keys:\n  - { id: a, key_env: TEAM_A_KEY, key: sk-oops }\n')).toBe('keys[0].key: unknown field');
  });

  it('refuses a route without targets', () => {
    expect(failure('models:\n  smart:\n    targets: []\n')).toBe('models.smart.targets: must have at least 1 item');
    expect(failure('models:\n  smart: { retry: { attempts: 2 } }\n')).toBe('models.smart.targets: is required');
  });

  it('refuses a key with both key_env and key_sha256, or neither', () => {
    expect(failure(`keys:\n  - { id: a, key_env: TEAM_A_KEY, key_sha256: ${'a'.repeat(64)} }\n`)).toBe(
      'keys[0]: has both key_env and key_sha256: give one',
    );
    expect(failure('keys:\n  - { id: a }\n')).toBe('keys[0]: needs key_env (a variable holding the key) or key_sha256');
  });

  it('refuses a variable that is not set, naming the field and the variable, never a value', () => {
    expect(failure(EXAMPLE, { LOCAL_API_KEY: 'sk-local' })).toBe('keys[0].key_env: the variable TEAM_A_KEY is not set (or empty)');
    expect(failure(EXAMPLE, { TEAM_A_KEY: 'team-a-secret', LOCAL_API_KEY: '  ' })).toBe(
      'providers.local.api_key_env: the variable LOCAL_API_KEY is not set (or empty)',
    );
    const both = failure(EXAMPLE, {});
    expect(both).toContain('providers.local.api_key_env: the variable LOCAL_API_KEY');
    expect(both).toContain('keys[0].key_env: the variable TEAM_A_KEY');
  });

  it('names the line of a YAML or JSON syntax error, without quoting it', () => {
    expect(failure('models:\n  smart:\n    targets: [sonnet\n  other: 1\n')).toMatch(/^line 4, column \d+: /);
    expect(failure('a: 1\na: 2\n')).toBe('line 2, column 1: Map keys must be unique');
    const json = failure('{\n  "keys": [\n    {"id": "a", "key_sha256": "s3cret",, }\n  ]\n}\n', ENV, 'json');
    expect(json).toMatch(/^line 3, column \d+: /);
    expect(json).not.toContain('s3cret');
  });

  it('refuses bad values, naming the field and never quoting a value', () => {
    const cases: [string, string][] = [
      ['retry: { attempts: 11 }', 'retry.attempts: must be at most 10'],
      ['retry: { attempts: 0 }', 'retry.attempts: must be at least 1'],
      ['retry: { attempts: 1.5 }', 'retry.attempts: must be an integer'],
      ['retry: { initial_backoff_ms: 9000 }', 'retry: initial_backoff_ms (9000) is above max_backoff_ms (8000)'],
      ['cooldown: { seconds: 0 }', 'cooldown.seconds: must be greater than 0'],
      ['cache: { max_mb: 1 }', 'cache.ttl_s: is required'],
      ['cache: { ttl_s: "5" }', 'cache.ttl_s: must be a number, not a string'],
      ['prices: { m: { input: -1, output: 1 } }', 'prices.m.input: must be at least 0'],
      ['prices: { "anthropic/x": { input: 1 } }', 'prices["anthropic/x"].output: is required'],
      ['providers: { local: { type: openai, base_url: "http://x" } }', 'providers.local.type: must be one of "openai-compatible", "anthropic"'],
      ['providers: { local: { type: anthropic, base_url: "ftp://x" } }', 'providers.local.base_url: must be an http:// or https:// URL'],
      ['providers: { claude-cli: { type: anthropic, base_url: "http://x" } }', "providers.claude-cli: 'claude-cli' is the built-in provider"],
      ['providers: { Local: { type: anthropic, base_url: "http://x" } }', 'providers.Local: a provider name is lowercase letters'],
      ['providers: { l: { type: anthropic, base_url: "http://x", api_key_env: sk-123 } }', 'providers.l.api_key_env: must be the name of an environment variable'],
      ['models: { "a/b": { targets: [sonnet] } }', `models["a/b"]: a route name has no '/'`],
      ['models: { m: { targets: [nowhere/x] } }', "models.m.targets[0]: 'nowhere/x' names the provider 'nowhere', which is not declared under providers"],
      ['models: { m: { targets: [sonnet], timeout_ms: 0 } }', 'models.m.timeout_ms: must be greater than 0'],
      ['keys: [{ id: "a b", key_env: X }]', 'keys[0].id: a key id is'],
      ['keys: [{ id: a, key_sha256: abc }]', 'keys[0].key_sha256: must be 64 hex digits'],
      ['keys: [{ id: a, key_env: TEAM_A_KEY, budget_usd: { daily: 0 } }]', 'keys[0].budget_usd.daily: must be greater than 0'],
      ['keys: [{ id: a, key_env: TEAM_A_KEY, webhooks: [not-a-url] }]', 'keys[0].webhooks[0]: must be an http:// or https:// URL'],
      ['keys: [{ id: a, key_env: TEAM_A_KEY }, { id: a, key_env: TEAM_A_KEY }]', "keys[1].id: 'a' is also the id of keys[0]"],
      [`keys: [{ id: a, key_sha256: ${'1'.repeat(64)} }]`, 'keys[0].key_sha256: must be a string, not a number (quote it)'],
      ['observers: ./one.js', 'observers: must be a list, not a string'],
      ['- 1', 'must be a mapping, not a list'],
    ];
    for (const [text, message] of cases) expect(failure(`${text}\n`)).toContain(message);
    expect(failure('providers: { l: { type: anthropic, base_url: "http://x", api_key_env: sk-123 } }\n')).not.toContain('sk-123');
  });

  it('refuses a file it cannot read', () => {
    const f = path.join(dir, 'absent.yaml');
    expect(() => loadGatewayConfig(f, {})).toThrow(new ConfigError(`GATEWAY_CONFIG ${f}: cannot be read (ENOENT)`));
  });
});

describe('GATEWAY_CONFIG and CACHE_TTL_S in the environment', () => {
  it('give the absolute path of an existing file, and a cache lifetime', () => {
    const f = file('{}');
    expect(loadConfig({ GATEWAY_CONFIG: path.relative(process.cwd(), f) }, process.cwd()).gatewayConfigFile).toBe(f);
    expect(loadConfig({}, '/x')).toMatchObject({ gatewayConfigFile: undefined, cacheTtlS: 0 });
    expect(loadConfig({ CACHE_TTL_S: '2.5' }, '/x').cacheTtlS).toBe(2.5);
  });

  it('are refused naming the variable', () => {
    expect(() => loadConfig({ GATEWAY_CONFIG: path.join(dir, 'nope.yaml') }, '/x')).toThrow(/^invalid GATEWAY_CONFIG=.*: no such file$/);
    expect(() => loadConfig({ CACHE_TTL_S: '-1' }, '/x')).toThrow(/^invalid CACHE_TTL_S=/);
    expect(() => loadConfig({ CACHE_TTL_S: 'soon' }, '/x')).toThrow(/^invalid CACHE_TTL_S=/);
  });
});
