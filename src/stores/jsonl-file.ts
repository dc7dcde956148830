import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Append-only JSON Lines files, the gateway's only storage. One synchronous append per line keeps
 * every line whole and in order: a crash can lose at most the line being written.
 */
export function appendJsonl(file: string, value: unknown): void {
  appendFileSync(file, `${JSON.stringify(value)}\n`);
}

/** Every parsable line of a file; a torn last line (crash mid-write) is skipped. */
export function readJsonl(file: string): unknown[] {
  if (!existsSync(file)) return [];
  const out: unknown[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // an unfinished line from a crash: the lines before it stand
    }
  }
  return out;
}

/** Replaces a file's contents atomically (write aside, then rename): used to compact at start. */
export function rewriteJsonl(file: string, values: unknown[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, values.map((v) => `${JSON.stringify(v)}\n`).join(''));
  renameSync(tmp, file);
}

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

export const jsonlPath = (dir: string, name: string) => path.join(dir, `${name}.jsonl`);
