// The command-line entry as a user runs it: `claude-cli-gateway --help`, `check`, and a start with flags.
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAKE_CLAUDE, tempDir } from '../support/gateway.js';
import { fetchJson, waitFor } from '../support/process-helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const dir = tempDir('gw-cli-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `src/cli.ts` as the bin runs the built one (tsx here: no build needed). */
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: path.join(dir, 'home'), DATA_DIR: path.join(dir, 'data'), ...env },
  });

describe('claude-cli-gateway', () => {
  it('--help lists every setting with its variable and default; an unknown flag exits 2 naming it', () => {
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--max-queue\s+MAX_QUEUE\s+100/);
    expect(help.stdout).toContain('claude-cli-gateway check');
    const bad = cli(['--prot', '1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown option '--prot'");
  });

  it('check reports the CLI, its credentials, providers and DATA_DIR, and exits non-zero on a problem', () => {
    const ok = cli(['check', '--claude-bin', FAKE_CLAUDE], { ANTHROPIC_API_KEY: 'sk-secret-value' });
    expect(ok.stdout).toMatch(/ok\s+Claude CLI\s+.*fake-claude/);
    expect(ok.stdout).toMatch(/ok\s+credentials\s+present/);
    expect(ok.stdout).toMatch(/ok\s+providers\s+claude-cli, anthropic/);
    expect(ok.stdout).not.toContain('sk-secret-value');
    expect(ok.status).toBe(0);
    const missing = cli(['check', '--claude-bin', path.join(dir, 'no-such-claude')], { ANTHROPIC_API_KEY: 'k' });
    expect(missing.status).toBe(1);
    expect(missing.stdout).toMatch(/PROBLEM\s+Claude CLI/);
    const noCredentials = cli(['check', '--claude-bin', FAKE_CLAUDE]);
    expect(noCredentials.status).toBe(1);
    expect(noCredentials.stdout).toMatch(/PROBLEM\s+credentials\s+the Claude CLI has no credentials/);
  });

  it('starts with flags, logs JSON when not on a terminal, and warns (log and /ready) when the CLI has no credentials', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli.ts'), '--port', '0', '--claude-bin', FAKE_CLAUDE, '--pool-size', '0'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: path.join(dir, 'home'), DATA_DIR: path.join(dir, 'data2'), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      const url = await waitFor(() => /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], { timeoutMs: 30_000 });
      await waitFor(() => out.includes('has no credentials'), { timeoutMs: 20_000 });
      const line = out.split('\n').find((l) => l.includes('has no credentials'))!;
      expect(JSON.parse(line)).toMatchObject({ level: 40 });
      const ready = await fetchJson(`${url}/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body.warnings).toEqual([expect.stringContaining('the Claude CLI has no credentials')]);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
