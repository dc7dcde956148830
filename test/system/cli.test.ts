// The command-line entry as a user runs it: `claude-cli-gateway --help`, `check`, a start with flags,
// and the bin's launcher (build first when dist/ is missing, then run dist/src/cli.js).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAKE_CLAUDE, tempDir } from '../support/gateway.js';
import { fetchJson, waitFor } from '../support/process-helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const dir = tempDir('gw-cli-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A clean environment: no credential of the developer's leaks into what is checked. */
const baseEnv = (dataDir: string): Record<string, string | undefined> => ({ PATH: process.env.PATH, HOME: path.join(dir, 'home'), DATA_DIR: path.join(dir, dataDir) });

/** `src/cli.ts` as the bin runs the built one (tsx here: no build needed). */
const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...baseEnv('data'), ...env },
  });

/** The gateway started through the CLI entry; its output (stdout and stderr) gathered. */
function startCli(args: string[], dataDir: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli.ts'), '--port', '0', '--claude-bin', FAKE_CLAUDE, '--pool-size', '0', ...args], {
    cwd: root,
    env: { ...baseEnv(dataDir), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const listening = (output: () => string) =>
  waitFor(() => /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1], { timeoutMs: 30_000, what: 'the gateway to listen' });

describe('claude-cli-gateway', () => {
  it('--help lists every setting with its variable and default; an unknown flag exits 2 naming it', () => {
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--max-queue\s+MAX_QUEUE\s+100/);
    expect(help.stdout).toMatch(/--log-format\s+LOG_FORMAT\s+\(unset: pretty on a terminal, else json\) \[pretty\|json\]/);
    expect(help.stdout).toContain('claude-cli-gateway check');
    const version = cli(['--version']);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version);
    const bad = cli(['--prot', '1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown option '--prot'");
  });

  it('check reports the CLI, its credentials, providers, keys, pool and DATA_DIR; exits 0 when it could serve', () => {
    const ok = cli(['check', '--claude-bin', FAKE_CLAUDE, '--gateway-api-keys', 'a:secret-one,b:secret-two'], { ANTHROPIC_API_KEY: 'sk-secret-value' });
    expect(ok.stdout).toMatch(/ok\s+Claude CLI\s+.*fake-claude.*\(2\.\d+\.\d+/);
    expect(ok.stdout).toMatch(/ok\s+credentials\s+present/);
    expect(ok.stdout).toMatch(/ok\s+providers\s+claude-cli, anthropic/);
    expect(ok.stdout).toMatch(/ok\s+API keys\s+2, required/);
    expect(ok.stdout).toMatch(/ok\s+pool\s+POOL_SIZE=1/);
    expect(ok.stdout).toMatch(new RegExp(`ok\\s+DATA_DIR\\s+${path.join(dir, 'data')}`));
    for (const secret of ['sk-secret-value', 'secret-one', 'secret-two']) expect(ok.stdout).not.toContain(secret);
    expect(ok.status).toBe(0);
    // No credentials: a warning (the CLI may have its own configuration), not a failure, as on /ready.
    const noCredentials = cli(['check', '--claude-bin', FAKE_CLAUDE]);
    expect(noCredentials.stdout).toMatch(/WARNING\s+credentials\s+the Claude CLI has no credentials: none of ANTHROPIC_API_KEY/);
    expect(noCredentials.status).toBe(0);
    // …and a login in its CLAUDE_CONFIG_DIR is one.
    const configDir = path.join(dir, 'logged-in');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(path.join(configDir, '.credentials.json'), '{}');
    expect(cli(['check', '--claude-bin', FAKE_CLAUDE, '--claude-config-dir', configDir]).stdout).toMatch(/ok\s+credentials\s+present/);
  });

  it('check exits 1 naming the problem: the CLI missing, the configuration invalid, DATA_DIR not writable', () => {
    const missing = cli(['check', '--claude-bin', path.join(dir, 'no-such-claude')], { ANTHROPIC_API_KEY: 'k' });
    expect(missing.status).toBe(1);
    expect(missing.stdout).toMatch(/PROBLEM\s+Claude CLI\s+.*no-such-claude.*ENOENT/);
    const invalid = cli(['check', '--port', 'eighty']);
    expect(invalid.status).toBe(1);
    expect(invalid.stdout).toMatch(/PROBLEM\s+configuration\s+invalid PORT="eighty"/);
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    const unwritable = cli(['check', '--claude-bin', FAKE_CLAUDE, '--data-dir', path.join(file, 'data')], { ANTHROPIC_API_KEY: 'k' });
    expect(unwritable.status).toBe(1);
    expect(unwritable.stdout).toMatch(/PROBLEM\s+DATA_DIR\s+.*a-file\/data is not writable \(ENOTDIR\)/);
  });

  it('starts with flags, logs JSON when not on a terminal, and warns (log and /ready) when the CLI has no credentials', async () => {
    const { child, output } = startCli([], 'data2');
    try {
      const url = await listening(output);
      await waitFor(() => output().includes('has no credentials'), { timeoutMs: 20_000 });
      const lines = output().split('\n').filter((l) => l.includes('has no credentials'));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: expect.stringContaining('the Claude CLI has no credentials') });
      const ready = await fetchJson(`${url}/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body.warnings).toEqual([expect.stringContaining('the Claude CLI has no credentials')]);
    } finally {
      await stop(child);
    }
  });

  it('--log-format pretty logs human-readable lines (pino-pretty) even when not on a terminal', async () => {
    const { child, output } = startCli(['--log-format', 'pretty'], 'data3');
    try {
      await listening(output);
      await waitFor(() => output().includes('has no credentials'), { timeoutMs: 20_000 });
      const line = output().split('\n').find((l) => l.includes('has no credentials'))!;
      expect(line).toMatch(/WARN/);
      expect(() => JSON.parse(line)).toThrow();
    } finally {
      await stop(child);
    }
  });
});

describe('bin/claude-cli-gateway.js', () => {
  // The launcher alone, in a package of its own whose "build" writes a stand-in dist/src/cli.js.
  const pkg = path.join(dir, 'pkg');
  mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  copyFileSync(path.join(root, 'bin/claude-cli-gateway.js'), path.join(pkg, 'bin/claude-cli-gateway.js'));
  const build = (script: string) =>
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'stand-in', type: 'module', scripts: { build: script } }));
  const launch = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(pkg, 'bin/claude-cli-gateway.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });

  it('builds dist/ when it is missing or older than the sources, else runs dist/src/cli.js as it is, with the arguments', () => {
    build(
      `node -e "const fs=require('fs');fs.mkdirSync('dist/src',{recursive:true});fs.appendFileSync('builds','x');fs.writeFileSync('dist/.tsbuildinfo','');` +
        `fs.writeFileSync('dist/src/cli.js','console.log(JSON.stringify(process.argv.slice(2)))')"`,
    );
    const source = path.join(pkg, 'src', 'main.ts');
    mkdirSync(path.dirname(source), { recursive: true });
    writeFileSync(source, '');
    const past = new Date(Date.now() - 60_000);
    utimesSync(source, past, past);
    const builds = () => readFileSync(path.join(pkg, 'builds'), 'utf8').length;
    const first = launch('--help', '-p', '9');
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual(['--help', '-p', '9']);
    expect(builds()).toBe(1);
    expect(launch('check').stdout.trim()).toBe('["check"]');
    expect(builds(), 'up to date: not built again').toBe(1);
    // A source changed since (a pull): built again.
    const later = new Date(Date.now() + 60_000);
    utimesSync(source, later, later);
    expect(launch('check').stdout.trim()).toBe('["check"]');
    expect(builds()).toBe(2);
  });

  it('exits 1 saying so when the build fails', () => {
    rmSync(path.join(pkg, 'dist'), { recursive: true, force: true });
    build('node -e "process.exit(3)"');
    const failed = launch('--help');
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('the build failed (npm run build)');
  });
});
