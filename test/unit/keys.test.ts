// API key entries (`secret` or `id:secret`), the table requests are matched against, and who sees what.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { type ConfigKey, KeyConfigError, derivedKeyId, keyDigest, keyEntrySchema, keyTable, matchKey } from '../../src/core/keys.js';
import { ANONYMOUS, type KeyPolicy, visibleTo } from '../../src/core/ownership.js';
import { KeyRing } from '../../src/http/auth.js';

const parse = (entry: string) => keyEntrySchema.parse(entry);
const refusal = (entry: string) => {
  const r = keyEntrySchema.safeParse(entry);
  expect(r.success).toBe(false);
  return r.error!.issues[0]!.message;
};

describe('a key entry', () => {
  it('is `id:secret` when the part before the first colon is an id', () => {
    expect(parse('alice:s3cret')).toEqual({ id: 'alice', secret: 's3cret' });
    expect(parse(' team-a.v2_1 : s3cret ')).toEqual({ id: 'team-a.v2_1', secret: 's3cret' });
    // Only the first colon separates: the secret may hold more.
    expect(parse('alice:se:cr:et')).toEqual({ id: 'alice', secret: 'se:cr:et' });
    expect(parse(`${'a'.repeat(64)}:x`)).toEqual({ id: 'a'.repeat(64), secret: 'x' });
  });

  it('is a bare secret otherwise, with an id derived from its hash', () => {
    const bare = parse('sk-plain-secret');
    expect(bare).toEqual({ id: derivedKeyId('sk-plain-secret'), secret: 'sk-plain-secret' });
    expect(bare.id).toMatch(/^key_[0-9a-f]{12}$/);
    expect(bare.id).toBe(parse('sk-plain-secret').id); // stable across reloads and restarts
    expect(derivedKeyId('another')).not.toBe(bare.id);
    // Before the colon is no id: the whole entry is the secret.
    for (const entry of [':leading', 'has space:x', 'a/b:c', 'ü:x', `${'a'.repeat(65)}:x`]) {
      expect(parse(entry)).toEqual({ id: derivedKeyId(entry), secret: entry });
    }
  });

  it('is refused when empty, or an id with nothing after its colon, without quoting anything secret', () => {
    expect(refusal('alice:')).toBe("key 'alice' has no secret after its ':'");
    expect(refusal('alice:   ')).toBe("key 'alice' has no secret after its ':'");
    expect(refusal('  ')).toBe('empty key');
  });
});

describe('the key table', () => {
  const alice = parse('alice:a-secret');
  const bob = parse('b-secret');
  const root = parse('root:r-secret');

  it('matches a presented secret to its key id and role, and nothing else', () => {
    const table = keyTable([alice, bob], [root]);
    expect(matchKey(table, 'a-secret')).toEqual({ keyId: 'alice', admin: false });
    expect(matchKey(table, 'b-secret')).toEqual({ keyId: bob.id, admin: false });
    expect(matchKey(table, 'r-secret')).toEqual({ keyId: 'root', admin: true });
    for (const wrong of ['alice', 'alice:a-secret', 'a-secret ', '', 'r-secre']) expect(matchKey(table, wrong)).toBeUndefined();
    expect(matchKey(keyTable([], []), 'a-secret')).toBeUndefined();
  });

  it('holds digests, never the secrets', () => {
    const table = keyTable([alice, bob], [root]);
    expect(JSON.stringify(table)).not.toMatch(/[abr]-secret/);
  });

  it('takes one secret listed twice under one id as one key, an admin one if either listing is', () => {
    const table = keyTable([alice, parse('alice:a-secret')], [parse('alice:a-secret')]);
    expect(table).toHaveLength(1);
    expect(matchKey(table, 'a-secret')).toEqual({ keyId: 'alice', admin: true });
    // One id may have several secrets (rotation): all of them are that key.
    const rotated = keyTable([alice, parse('alice:a-secret-2')], []);
    expect(matchKey(rotated, 'a-secret-2')).toEqual({ keyId: 'alice', admin: false });
  });

  it('refuses one secret under two ids, naming the ids only', () => {
    const clash = () => keyTable([alice], [parse('root:a-secret')]);
    expect(clash).toThrow(KeyConfigError);
    expect(clash).toThrow("the keys 'alice' and 'root' have the same secret: give it one id");
    expect(() => keyTable([parse('a-secret'), alice], [])).toThrow(/^the keys 'key_[0-9a-f]{12}' and 'alice'/);
  });
});

describe('keys from GATEWAY_CONFIG', () => {
  const alice = parse('alice:a-secret');
  const policy: KeyPolicy = { budgetUsd: { daily: 5, total: 100 }, models: ['smart'], webhooks: ['http://127.0.0.1:9100/hook'] };
  const team: ConfigKey = { id: 'team-a', digest: keyDigest('t-secret'), admin: false, policy };
  const ops: ConfigKey = { id: 'ops', digest: keyDigest('o-secret'), admin: true, policy: {} };

  it("match by digest, beside the environment's keys, and carry their policy", () => {
    const table = keyTable([alice], [], [team, ops]);
    expect(matchKey(table, 't-secret')).toEqual({ keyId: 'team-a', admin: false, policy });
    expect(matchKey(table, 'o-secret')).toEqual({ keyId: 'ops', admin: true, policy: {} });
    // The environment's keys have no policy.
    expect(matchKey(table, 'a-secret')).toStrictEqual({ keyId: 'alice', admin: false });
    for (const wrong of ['team-a', 't-secre', '']) expect(matchKey(table, wrong)).toBeUndefined();
    // A key_sha256 is the digest itself.
    const bySha = { ...team, digest: Buffer.from(keyDigest('t-secret').toString('hex'), 'hex') };
    expect(matchKey(keyTable([], [], [bySha]), 't-secret')?.keyId).toBe('team-a');
  });

  it('refuse one secret under two ids, across the environment and the file', () => {
    expect(() => keyTable([alice], [], [{ ...team, digest: keyDigest('a-secret') }])).toThrow(
      new KeyConfigError("the keys 'alice' and 'team-a' have the same secret: give it one id"),
    );
    expect(() => keyTable([], [], [team, { ...ops, digest: team.digest }])).toThrow("the keys 'team-a' and 'ops' have the same secret");
  });

  it('refuse an id that is both in the environment and in the file, or twice in the file', () => {
    const both = () => keyTable([], [parse('team-a:other-secret')], [team]);
    expect(both).toThrow(KeyConfigError);
    expect(both).toThrow("the key 'team-a' is both in the environment and in GATEWAY_CONFIG: give one of them another id");
    // Even with the same secret: the file's policy would not be the environment key's.
    expect(() => keyTable([parse('team-a:t-secret')], [], [team])).toThrow(/both in the environment and in GATEWAY_CONFIG/);
    expect(() => keyTable([], [], [team, { ...team, digest: keyDigest('t2') }])).toThrow("the key 'team-a' is listed twice in GATEWAY_CONFIG");
    expect(() => keyTable([], [], [{ ...team, digest: Buffer.alloc(16) }])).toThrow("the key 'team-a' has no SHA-256 digest");
  });
});

describe('the key ring', () => {
  const team: ConfigKey = { id: 'team-a', digest: keyDigest('t-secret'), admin: false, policy: { models: ['smart'] } };

  it('is on with config keys alone, and gives their principal its policy', () => {
    expect(new KeyRing({ api: [], admin: [] }).enabled).toBe(false);
    expect(new KeyRing({ api: [], admin: [], config: [] }).enabled).toBe(false);
    const ring = new KeyRing({ api: [], admin: [], config: [team] });
    expect(ring.enabled).toBe(true);
    expect(ring.match('t-secret')).toEqual({ keyId: 'team-a', admin: false, policy: { models: ['smart'] } });
  });

  it('replaces the config keys on reload, keeps the old ones when the new cannot be used, and never opens up', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keyring-'));
    try {
      const file = path.join(dir, 'keys');
      writeFileSync(file, 'bob:b-secret\n');
      const ring = new KeyRing({ api: [parse('alice:a-secret')], admin: [] }, file);
      expect(ring.reload([team])).toBe(3);
      expect(ring.match('t-secret')?.keyId).toBe('team-a');
      // Without an argument, a reload re-reads the file and keeps the config keys.
      writeFileSync(file, 'bob:b-secret-2\n');
      expect(ring.reload()).toBe(3);
      expect(ring.match('t-secret')?.keyId).toBe('team-a');
      expect(ring.match('b-secret-2')?.keyId).toBe('bob');
      // A clash throws and leaves everything as it was, the file's keys included.
      writeFileSync(file, 'bob:b-secret-3\n');
      expect(() => ring.reload([{ ...team, id: 'alice' }])).toThrow(KeyConfigError);
      expect(ring.match('t-secret')?.keyId).toBe('team-a');
      expect(ring.match('b-secret-2')?.keyId).toBe('bob');
      expect(ring.match('b-secret-3')).toBeUndefined();
      // A new table without the key: it stops matching.
      expect(ring.reload([])).toBe(2);
      expect(ring.match('t-secret')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Keys from the file only: removing them all on reload locks everything out rather than opening up.
    const only = new KeyRing({ api: [], admin: [], config: [team] });
    expect(only.reload([])).toBe(0);
    expect(only.enabled).toBe(true);
    expect(only.match('t-secret')).toBeUndefined();
  });
});

describe('visibility', () => {
  it('lets a key see its own, an admin everything, and nobody else anything', () => {
    const alice = { keyId: 'alice', admin: false };
    const root = { keyId: 'root', admin: true };
    const noKey = { keyId: null, admin: false };
    expect(visibleTo(alice, 'alice')).toBe(true);
    expect(visibleTo(alice, 'bob')).toBe(false);
    // No owner: made without keys, or before owners were recorded; an admin's only.
    expect(visibleTo(alice, null)).toBe(false);
    expect(visibleTo(noKey, null)).toBe(false);
    expect(visibleTo(root, 'alice')).toBe(true);
    expect(visibleTo(root, null)).toBe(true);
    // Without keys there is one user, who sees everything.
    expect(visibleTo(ANONYMOUS, 'alice')).toBe(true);
    expect(visibleTo(ANONYMOUS, null)).toBe(true);
  });
});

describe('GATEWAY_API_KEYS and GATEWAY_ADMIN_KEYS', () => {
  it('are read as key entries', () => {
    const c = loadConfig({ GATEWAY_API_KEYS: 'alice:a-secret, b-secret', GATEWAY_ADMIN_KEYS: 'root:r-secret' }, '/x');
    expect(c.apiKeys).toEqual([
      { id: 'alice', secret: 'a-secret' },
      { id: derivedKeyId('b-secret'), secret: 'b-secret' },
    ]);
    expect(c.adminKeys).toEqual([{ id: 'root', secret: 'r-secret' }]);
    expect(loadConfig({}, '/x').adminKeys).toEqual([]);
  });

  it.each(['GATEWAY_API_KEYS', 'GATEWAY_ADMIN_KEYS'])('refuse a bad %s naming the variable and the entry, never the value', (name) => {
    const load = () => loadConfig({ [name]: 'ok-secret-1,alice:' }, '/x');
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`invalid ${name} (entry 2): key 'alice' has no secret after its ':'`);
    try {
      load();
    } catch (err) {
      expect(String(err)).not.toContain('ok-secret-1');
    }
  });
});
