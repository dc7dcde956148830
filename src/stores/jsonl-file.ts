import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Open append descriptors by path, least recently used first: one `write` per line, no open/close. */
const open = new Map<string, number>();
const MAX_OPEN = 128;

function descriptor(file: string): number {
  let fd = open.get(file);
  if (fd !== undefined) {
    open.delete(file);
  } else {
    if (open.size >= MAX_OPEN) closeJsonl(open.keys().next().value!);
    fd = openSync(file, 'a');
  }
  open.set(file, fd);
  return fd;
}

/** Closes a file's cached descriptor (before the file is replaced, or when the gateway stops). */
export function closeJsonl(file: string): void {
  const fd = open.get(file);
  if (fd === undefined) return;
  open.delete(file);
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** Closes the cached descriptors of every file below a directory (a gateway's own, when it stops). */
export function closeJsonlUnder(dir: string): void {
  for (const f of [...open.keys()]) if (f.startsWith(`${dir}${path.sep}`)) closeJsonl(f);
}

/**
 * Append-only JSON Lines files, the gateway's only storage. One synchronous O_APPEND write per line
 * keeps every line whole and in order: a crash can lose at most the line being written.
 */
export function appendJsonl(file: string, value: unknown): void {
  writeSync(descriptor(file), `${JSON.stringify(value)}\n`);
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
  closeJsonl(file);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, values.map((v) => `${JSON.stringify(v)}\n`).join(''));
  renameSync(tmp, file);
}

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

export const jsonlPath = (dir: string, name: string) => path.join(dir, `${name}.jsonl`);
