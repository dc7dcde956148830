// providers/claude-cli/credentials.ts: whether the CLI has a credential, said without its value.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missingCredentials } from '../../providers/claude-cli/credentials.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-credentials-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('missingCredentials', () => {
  it('is satisfied by any of the three variables, or by a login in the config dir', () => {
    for (const name of ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_AUTH_TOKEN']) {
      expect(missingCredentials({ [name]: 'value' }, dir), name).toBeUndefined();
    }
    const loggedIn = path.join(dir, 'logged-in');
    rmSync(loggedIn, { recursive: true, force: true });
    expect(missingCredentials({}, loggedIn)).toBeDefined();
    writeFileSync(path.join(dir, '.credentials.json'), '{}');
    expect(missingCredentials({}, dir)).toBeUndefined();
  });

  it('says what is missing, naming the variables and the dir, never a value', () => {
    const empty = path.join(dir, 'empty');
    const why = missingCredentials({ ANTHROPIC_API_KEY: '   ', ANTHROPIC_BASE_URL: 'http://secret-host' }, empty)!;
    expect(why).toMatch(/^the Claude CLI has no credentials: none of ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, ANTHROPIC_AUTH_TOKEN is set/);
    expect(why).toContain(empty);
    expect(why).not.toContain('secret-host');
  });
});
