import {
  closeSync,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { StartupError, describeFsError, storageError } from '../../core/errors.js';

/** The gateway's files hold prompts and answers: owner-only, whatever the umask. */
export const PRIVATE_FILE = 0o600;

/** `write(2)` as fs.writeSync has it; tests inject short writes through it. */
export type WriteFn = (fd: number, buf: Buffer, offset: number, length: number) => number;

/** Lines of a store's file that were set aside at start instead of loaded. */
export interface CorruptReport {
  file: string;
  skipped: number;
  /** The side file holding them as they were. */
  copy: string;
}

export interface JsonlFilesOptions {
  /** Told once per file that had unreadable lines. */
  onCorrupt?(report: CorruptReport): void;
  write?: WriteFn;
}

const MAX_OPEN = 128;

/**
 * Append-only JSON Lines files, the gateway's only storage. One synchronous O_APPEND write per line
 * keeps lines whole and in order. A write that fails or comes up short (a full disk) is cut back to
 * where the line began and reported as a StorageError, so no torn line ever precedes a whole one.
 */
export class JsonlFiles {
  /** Open append descriptors by path, least recently used first: no open/close per line. */
  private readonly open = new Map<string, number>();
  private readonly write: WriteFn;

  constructor(private readonly opts: JsonlFilesOptions = {}) {
    this.write = opts.write ?? ((fd, buf, offset, length) => writeSync(fd, buf, offset, length));
  }

  /** Appends `value` as one line, or throws the StorageError naming `what` and the cause. */
  append(file: string, value: unknown, what: string): void {
    let fd: number | undefined;
    let written = 0;
    try {
      const line = Buffer.from(`${JSON.stringify(value)}\n`);
      fd = this.descriptor(file);
      // A short write is retried once more for the rest: the kernel then names the cause (ENOSPC).
      while (written < line.length) {
        const n = this.write(fd, line, written, line.length - written);
        if (n <= 0) throw Object.assign(new Error(`short write: ${written} of ${line.length} bytes`), { code: 'EIO' });
        written += n;
      }
    } catch (err) {
      if (fd !== undefined) this.cutBack(file, fd, written);
      throw storageError(err, what);
    }
  }

  /**
   * The values of a store's file at start that parse and fit `schema`, in order. Every other line is
   * copied as it was to `<file>.corrupt-<time>` and reported, never dropped without a trace.
   */
  load<S extends z.ZodType>(file: string, schema: S): z.output<S>[] {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StartupError(`could not read ${file}: ${describeFsError(err)}`);
    }
    const values: z.output<S>[] = [];
    const corrupt: string[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        corrupt.push(line); // a torn line, or one glued to a fragment
        continue;
      }
      const parsed = schema.safeParse(json);
      if (parsed.success) values.push(parsed.data);
      else corrupt.push(line);
    }
    if (corrupt.length) {
      const copy = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      try {
        writePrivateFile(copy, `${corrupt.join('\n')}\n`, 'wx');
      } catch (err) {
        throw new StartupError(`could not keep the unreadable lines of ${file} in ${copy}: ${describeFsError(err)}`);
      }
      this.opts.onCorrupt?.({ file, skipped: corrupt.length, copy });
    }
    return values;
  }

  /**
   * Replaces a file's contents atomically (write aside, then rename): compaction at start. On
   * failure the file stays as it was and no temp file is left, nor any from earlier failed starts.
   */
  rewrite(file: string, values: unknown[]): void {
    this.close(file);
    const dir = path.dirname(file);
    const stale = new RegExp(`^${escapeRegExp(path.basename(file))}\\.\\d+\\.tmp$`);
    for (const name of readdirSync(dir)) if (stale.test(name)) rmSync(path.join(dir, name), { force: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writePrivateFile(tmp, values.map((v) => `${JSON.stringify(v)}\n`).join(''), 'w');
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new StartupError(`could not compact ${file}: ${describeFsError(err)}`);
    }
  }

  /** Closes a file's descriptor (before it is replaced, or after a failed write). */
  close(file: string): void {
    const fd = this.open.get(file);
    if (fd === undefined) return;
    this.open.delete(file);
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }

  /** Closes every descriptor (the gateway stops). */
  closeAll(): void {
    for (const file of [...this.open.keys()]) this.close(file);
  }

  private descriptor(file: string): number {
    let fd = this.open.get(file);
    if (fd !== undefined) {
      this.open.delete(file);
    } else {
      if (this.open.size >= MAX_OPEN) this.close(this.open.keys().next().value!);
      fd = openSync(file, 'a+', PRIVATE_FILE);
      try {
        const { mode, size } = fstatSync(fd);
        if ((mode & 0o777) !== PRIVATE_FILE) fchmodSync(fd, PRIVATE_FILE);
        this.terminateLastLine(fd, size);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
    }
    this.open.set(file, fd);
    return fd;
  }

  /** A last line left unterminated (a crash mid-write) is ended, so the next line is not glued to it. */
  private terminateLastLine(fd: number, size: number): void {
    if (size === 0) return;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return;
    if (this.write(fd, Buffer.from('\n'), 0, 1) !== 1) throw Object.assign(new Error('short write: 0 of 1 bytes'), { code: 'EIO' });
  }

  /** Takes back the part of a line that was written; the descriptor is dropped, so the next append reopens and repairs. */
  private cutBack(file: string, fd: number, written: number): void {
    try {
      if (written > 0) ftruncateSync(fd, fstatSync(fd).size - written);
    } catch {
      // left unterminated: the next open ends it before appending
    }
    this.close(file);
  }
}

/** Writes a whole file created owner-only; a failure removes what it created. */
export function writePrivateFile(file: string, data: string, flag: 'w' | 'wx'): void {
  const fd = openSync(file, flag, PRIVATE_FILE);
  let written = false;
  try {
    fchmodSync(fd, PRIVATE_FILE);
    writeFileSync(fd, data);
    written = true;
  } finally {
    if (!written) rmSync(file, { force: true });
    closeSync(fd);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export const jsonlPath = (dir: string, name: string) => path.join(dir, `${name}.jsonl`);
