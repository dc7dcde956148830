// Shared helpers of the benchmarks: statistics, markdown tables, the CLI's environment and argv
// exactly as the gateway builds them, and a direct (gateway-less) CLI run.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultClaudeBin } from '../src/config.js';

/** The real CLI installed with the project (node_modules/@anthropic-ai/claude-code/bin/claude.exe). */
export const CLAUDE_BIN = defaultClaudeBin();

/** Positive integer from the environment, else the default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
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

/** The child environment the gateway gives the CLI (providers/claude-cli/env.ts), nothing else. */
export function cliEnv(o: { home: string; configDir: string; baseUrl: string }): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: o.home,
    CLAUDE_CONFIG_DIR: o.configDir,
    ANTHROPIC_BASE_URL: o.baseUrl,
    ANTHROPIC_API_KEY: 'sk-test',
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
}

/** The argv the gateway passes for a plain non-streaming request (providers/claude-cli/args.ts). */
export function cliArgs(): string[] {
  return ['-p', '--output-format=json', '--model=sonnet', `--session-id=${randomUUID()}`, '--tools='];
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

export function machineLine(): string {
  return `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown cpu'}), Node ${process.version}, ${os.platform()} ${os.release()}, 1-min load avg ${os.loadavg()[0]!.toFixed(2)} at start`;
}
