// Shared helpers of the benchmarks: statistics, markdown tables, the CLI's environment and argv
// exactly as the gateway builds them, and a direct (gateway-less) CLI run.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { oneShotArgs } from '../providers/claude-cli/args.js';
import { childEnv } from '../providers/claude-cli/env.js';
import { defaultClaudeBin } from '../src/config.js';

/** The real CLI installed with the project (node_modules/@anthropic-ai/claude-code/bin/claude.exe). */
export const CLAUDE_BIN = defaultClaudeBin();

/** The repository's root directory. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The project's instant fake CLI (a Node script: each run costs one Node start-up, ~40 ms). */
export const FAKE_CLAUDE_BIN = path.join(ROOT, 'test/support/fake-claude.mjs');

/** Integer ≥ `min` (default 1: positive) from the environment, else the default. */
export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Comma-separated positive integers from the environment (`4,8,16`), else the default. */
export function envIntList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`${name} must be comma-separated positive integers, got ${JSON.stringify(raw)}`);
  }
  return list;
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** Median (mean of the two middle values for an even count). */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const fmt = (ms: number, digits = 1): string => (Number.isFinite(ms) ? ms.toFixed(digits) : 'n/a');

export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** A fresh temporary directory with home/, claude/ (CLAUDE_CONFIG_DIR) and workspace/. */
export function benchDirs(prefix: string): { dir: string; home: string; configDir: string; workspace: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const home = path.join(dir, 'home');
  const configDir = path.join(dir, 'claude');
  const workspace = path.join(dir, 'workspace');
  for (const d of [home, configDir, workspace]) mkdirSync(d, { recursive: true });
  return { dir, home, configDir, workspace };
}

/** The child environment the gateway gives the CLI, built by the provider's own code, nothing else. */
export function cliEnv(o: { home: string; configDir: string; baseUrl: string }): Record<string, string> {
  const parent = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: o.home, ANTHROPIC_BASE_URL: o.baseUrl, ANTHROPIC_API_KEY: 'sk-test' };
  return childEnv(parent, { claudeConfigDir: o.configDir, passthrough: [] });
}

/**
 * The argv the gateway passes for a plain non-streaming request (sonnet, no system prompt, no tools),
 * built by the provider's own code.
 */
export function cliArgs(sessionId: string = randomUUID()): string[] {
  const noTools = { tools: [], allowed: [], disallowed: [] };
  const request = { model: 'sonnet', prompt: '', images: [], sessionId, resume: false, toolPolicy: noTools, clientTools: [], parallelToolCalls: true, stream: false, cwd: '' };
  return oneShotArgs(request, {});
}

export interface DirectRun {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI once, prompt on stdin, and times spawn → exit. Async: the mock shares this event loop. */
export function runCliDirect(env: Record<string, string>, cwd: string, prompt: string): Promise<DirectRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(CLAUDE_BIN, cliArgs(), { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.once('error', reject);
    child.once('close', (code) => resolve({ ms: performance.now() - t0, code, stdout, stderr }));
    child.stdin.end(prompt);
  });
}

/** A direct run that must answer `reply`: its spawn → exit time, or an error saying what it printed. */
export async function runCliExpecting(env: Record<string, string>, cwd: string, prompt: string, reply: string): Promise<number> {
  const r = await runCliDirect(env, cwd, prompt);
  let result: string | undefined;
  try {
    result = (JSON.parse(r.stdout) as { result?: string }).result;
  } catch {
    // reported below
  }
  if (r.code !== 0 || result !== reply) throw new Error(`direct CLI exited ${r.code}: ${r.stdout.slice(0, 300)} ${r.stderr.slice(0, 300)}`);
  return r.ms;
}

export function machineLine(): string {
  return `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown cpu'}), Node ${process.version}, ${os.platform()} ${os.release()}, 1-min load avg ${os.loadavg()[0]!.toFixed(2)} at start`;
}

export const mb = (kb: number): string => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : 'n/a');

// ---------------------------------------------------------------------------------------------
// The gateway as its own process, and its memory from /proc.

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The last 64 KiB of what it printed (stdout + stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL'); // a bench that crashed must not leave a gateway behind
});

/**
 * `node --import tsx src/main.ts`, or with BENCH_GATEWAY=dist the build `npm start` runs
 * (`node dist/src/main.js`, after `npm run build`): tsx's loader adds about 27 MB of RSS.
 * BENCH_CPU_PROF=<dir>: the gateway writes a V8 CPU profile there when it exits (`--cpu-prof`).
 */
export function gatewayArgv(): string[] {
  const which = process.env.BENCH_GATEWAY ?? 'tsx';
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
  if (which === 'dist') return [...prof, path.join(ROOT, 'dist/src/main.js')];
  if (which === 'tsx') return [...prof, '--import', 'tsx', path.join(ROOT, 'src/main.ts')];
  throw new Error(`BENCH_GATEWAY must be tsx or dist, got ${JSON.stringify(which)}`);
}

/** The gateway's command line, for a bench's workload description. */
export const gatewayCommand = (): string => `node ${gatewayArgv().map((a) => path.relative(ROOT, a) || a).join(' ')}`;

/**
 * Runs the gateway (see gatewayArgv: by default `node --import tsx src/main.ts`) as its own process,
 * so that its event loop and memory are its own. `env` is its whole environment besides PATH, HOST
 * and PORT. With LOG_LEVEL=warn it prints no "Server listening at" line, so the bench picks a free
 * port itself and waits for `GET /health`; a port taken in between is retried.
 */
export async function startGatewayProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<GatewayProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, gatewayArgv(), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    const out = outputTail(child);
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        live.delete(child);
        resolve();
      }),
    );
    let gone = false;
    void exited.then(() => (gone = true));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + timeoutMs;
    let up = false;
    while (!gone && Date.now() < deadline) {
      try {
        const res = await fetch(`${url}/health`);
        await res.arrayBuffer();
        if (res.ok) {
          up = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    const gw: GatewayProcess = {
      child,
      pid: child.pid!,
      url,
      output: out,
      async stop(graceMs = 5_000) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
    };
    if (up) return gw;
    await gw.stop(1_000);
    if (attempt < 3 && /EADDRINUSE/.test(out())) continue;
    throw new Error(`gateway did not start within ${timeoutMs} ms:\n${out().slice(-4000)}`);
  }
}

/**
 * Gateway settings a bench's user asks for: BENCH_POOL_SIZE as POOL_SIZE, and any `BENCH_GW_<NAME>`
 * as `<NAME>` (BENCH_GW_POOL_MAX_PROCESSES=64, say). Applied over the bench's own settings.
 */
export function gatewayEnvFromBench(): Record<string, string> {
  const env: Record<string, string> = {};
  if (process.env.BENCH_POOL_SIZE) env.POOL_SIZE = process.env.BENCH_POOL_SIZE;
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('BENCH_GW_') && v !== undefined) env[k.slice(9)] = v;
  return env;
}

/** `NAME=value …` of the settings above, for a bench's workload description. */
export const describeEnv = (env: Record<string, string>): string =>
  Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || '(none)';

/** What a child prints (stdout and stderr), its last 64 KiB kept: read it with the returned function. */
export function outputTail(child: ChildProcess): () => string {
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString('utf8');
    if (out.length > 128 * 1024) out = out.slice(-64 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => out.slice(-64 * 1024);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until no process under this one (gateways, their CLI processes, a direct CLI) has used CPU
 * for `windowMs` (more than one clock tick: a new process counts as busy), or `maxMs` have passed:
 * the previous sample's CLI has exited, a refill's new process has finished its start-up. Returns
 * the time it took.
 */
export async function quiet(windowMs = 200, maxMs = 10_000): Promise<number> {
  const t0 = performance.now();
  const ticks = () => {
    const m = new Map<number, number>();
    for (const pid of processTree(process.pid).slice(1)) m.set(pid, cpuSeconds(pid).self);
    return m;
  };
  let before = ticks();
  while (performance.now() - t0 < maxMs) {
    await sleep(windowMs);
    const after = ticks();
    let busy = false;
    for (const [pid, cpu] of after) {
      const was = before.get(pid);
      if (was === undefined || cpu - was > 0.011) busy = true;
    }
    before = after;
    if (!busy) break;
  }
  return performance.now() - t0;
}

/** VmRSS of one process in KiB (0 once it is gone). */
export function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** `pid` and all its descendants, from the parent ids in /proc/<pid>/stat. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid);
    if (list) list.push(Number(name));
    else children.set(ppid, [Number(name)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

export interface RssPeak {
  /** peak VmRSS of the root process, KiB */
  root: number;
  /** peak of the sum of VmRSS over the root and all its descendants at one sample, KiB */
  tree: number;
  /** most processes in the tree at one sample (root included) */
  procs: number;
  samples: number;
}

/**
 * Samples the VmRSS of `pid` (and, with `tree`, the sum over its descendants) every `everyMs` until
 * stop() returns the peaks. Shared pages are counted once per process, so a tree's sum overstates.
 */
export function sampleRss(pid: number, opts: { everyMs?: number; tree?: boolean } = {}): { stop(): RssPeak } {
  const peak: RssPeak = { root: 0, tree: 0, procs: 0, samples: 0 };
  const sample = () => {
    peak.samples++;
    peak.root = Math.max(peak.root, rssKb(pid));
    if (!opts.tree) return;
    const pids = processTree(pid);
    peak.procs = Math.max(peak.procs, pids.length);
    peak.tree = Math.max(peak.tree, pids.reduce((sum, p) => sum + rssKb(p), 0));
  };
  sample();
  const timer = setInterval(sample, opts.everyMs ?? 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** POST a JSON body; the parsed JSON answer and its status. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // left as text
  }
  return { status: res.status, body: parsed };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/**
 * CPU seconds of `pid` itself, and of all its descendants: the live ones (each with the children it
 * reaped) plus those `pid` has reaped. A difference of two readings is the CPU used in between, also
 * by processes that started or ended meanwhile (pool processes included, which are never reaped).
 */
export function treeCpuSeconds(pid: number): { self: number; descendants: number } {
  const root = cpuSeconds(pid);
  let descendants = root.children;
  for (const p of processTree(pid).slice(1)) {
    const c = cpuSeconds(p);
    if (Number.isFinite(c.self)) descendants += c.self + c.children;
  }
  return { self: root.self, descendants };
}

/** CPU seconds of a process: its own (user + system) and that of its children it has reaped. */
export function cpuSeconds(pid: number): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // after "pid (comm) ": state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based fields of the whole line
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(f[i - 3]);
    return { self: (n(14) + n(15)) / CLK_TCK, children: (n(16) + n(17)) / CLK_TCK };
  } catch {
    return { self: Number.NaN, children: Number.NaN };
  }
}

/**
 * The functions with the most self time in the busiest V8 `.cpuprofile` of `dir` (written by
 * `node --cpu-prof`; tsx's loader thread writes one too), as a markdown table: share of the busy
 * (non-idle) time, self ms, function, file:line.
 */
export function cpuProfileTop(dir: string, top = 15): { file: string; busyMs: number; table: string } | undefined {
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }
  let best: { file: string; busyUs: number; self: Map<string, number> } | undefined;
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const file = path.join(dir, f);
    const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const self = new Map<string, number>();
    let busyUs = 0;
    prof.samples.forEach((id, i) => {
      const dt = prof.timeDeltas[i] ?? 0;
      const c = byId.get(id)!.callFrame;
      if (c.functionName === '(idle)') return;
      busyUs += dt;
      const where = c.url ? `${c.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '')}:${c.lineNumber + 1}` : '';
      const key = `${c.functionName || '(anonymous)'}\t${where}`;
      self.set(key, (self.get(key) ?? 0) + dt);
    });
    if (!best || busyUs > best.busyUs) best = { file, busyUs, self };
  }
  if (!best) return undefined;
  const rows = [...best.self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => {
      const [fn, where] = key.split('\t');
      return [`${((100 * us) / best.busyUs).toFixed(1)}%`, fmt(us / 1000, 0), fn!, where!.replace(/^.*node_modules\//, '~/')];
    });
  return { file: best.file, busyMs: best.busyUs / 1000, table: markdownTable(['busy %', 'self ms', 'function', 'where'], rows) };
}
