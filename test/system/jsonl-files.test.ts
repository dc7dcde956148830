// Unit tests of the storage layer's pure parts: the JSONL writer under failing and short writes,
// loading with corrupt lines, compaction's temp files, errno → error mapping, and the bus's recorders.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { StartupError, StorageError, storageError } from '../../src/core/errors.js';
import { EventBus } from '../../src/core/event-bus.js';
import type { NewEvent } from '../../src/core/process-types.js';
import { type CorruptReport, JsonlFiles, type WriteFn } from '../../src/stores/jsonl/jsonl-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'gw-jsonl-'));
  dirs.push(d);
  return d;
}

const errno = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}, write`), { code });

/** Lines of a file, asserting it ends with a newline (no unterminated last line). */
function wholeLines(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((l) => JSON.parse(l));
}

describe('JsonlFiles.append', () => {
  it('cuts a short write back and names the cause, so the next line is whole and alone', () => {
    const file = path.join(scratch(), 'x.jsonl');
    let failNext = false;
    // Like a full disk: part of the buffer, then ENOSPC for the rest.
    const write: WriteFn = (fd, buf, offset, length) => {
      if (!failNext) return writeSync(fd, buf, offset, length);
      if (offset === 0) return writeSync(fd, buf, 0, Math.floor(length / 2));
      failNext = false;
      throw errno('ENOSPC', 'no space left on device');
    };
    const files = new JsonlFiles({ write });
    files.append(file, { n: 1 }, 'the test log');
    failNext = true;
    let thrown: unknown;
    try {
      files.append(file, { n: 2, pad: 'y'.repeat(100) }, 'the test log');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StorageError);
    expect((thrown as StorageError).status).toBe(507);
    expect((thrown as StorageError).code).toBe('storage_full');
    expect((thrown as StorageError).message).toBe('could not write the test log: ENOSPC (no space left on device)');
    expect(wholeLines(file)).toEqual([{ n: 1 }]);
    files.append(file, { n: 3 }, 'the test log');
    expect(wholeLines(file)).toEqual([{ n: 1 }, { n: 3 }]);
    files.closeAll();
  });

  it('treats a write that makes no progress as a failure instead of spinning', () => {
    const file = path.join(scratch(), 'x.jsonl');
    const files = new JsonlFiles({ write: (fd, buf, offset) => (offset === 0 ? writeSync(fd, buf, 0, 3) : 0) });
    expect(() => files.append(file, { n: 1 }, 'the test log')).toThrow(/could not write the test log: EIO \(short write: 3 of 8 bytes\)/);
    expect(readFileSync(file, 'utf8')).toBe('');
    files.closeAll();
  });

  it('terminates an unterminated last line (a crash mid-write) before appending', () => {
    const file = path.join(scratch(), 'x.jsonl');
    writeFileSync(file, '{"n":1}\n{"n":2,"torn');
    const files = new JsonlFiles();
    files.append(file, { n: 3 }, 'the test log');
    files.closeAll();
    expect(readFileSync(file, 'utf8')).toBe('{"n":1}\n{"n":2,"torn\n{"n":3}\n');
  });

  it('fails on data that does not serialize, writing nothing', () => {
    const file = path.join(scratch(), 'x.jsonl');
    let deep: unknown = 'leaf';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const files = new JsonlFiles();
    let thrown: unknown;
    try {
      files.append(file, { deep }, 'the session log');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StorageError);
    expect((thrown as StorageError).status).toBe(500);
    expect((thrown as StorageError).message).toMatch(/^could not write the session log: RangeError: Maximum call stack/);
    expect(existsSync(file)).toBe(false);
  });

  it('creates files owner-only (0600) and tightens an older 0644 one', () => {
    const dir = scratch();
    const old = path.join(dir, 'old.jsonl');
    writeFileSync(old, '{"n":1}\n', { mode: 0o644 });
    const files = new JsonlFiles();
    files.append(path.join(dir, 'new.jsonl'), { n: 1 }, 'x');
    files.append(old, { n: 2 }, 'x');
    files.closeAll();
    expect(statSync(path.join(dir, 'new.jsonl')).mode & 0o777).toBe(0o600);
    expect(statSync(old).mode & 0o777).toBe(0o600);
  });
});

describe('JsonlFiles.load and rewrite (start-up)', () => {
  const schema = z.object({ n: z.number() });

  it('keeps every unreadable or invalid line in a 0600 side file and reports it once', () => {
    const file = path.join(scratch(), 'p.jsonl');
    const bad = ['{"n":2,"to', '{"n":"three"}', '{"n":4}{"n":5}'];
    writeFileSync(file, `{"n":1}\n${bad[0]}{"n":6}\n${bad[1]}\n\n${bad[2]}\n{"n":7}\n`);
    const reports: CorruptReport[] = [];
    const files = new JsonlFiles({ onCorrupt: (r) => reports.push(r) });
    expect(files.load(file, schema)).toEqual([{ n: 1 }, { n: 7 }]);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ file, skipped: 3 });
    expect(reports[0]!.copy).toMatch(/p\.jsonl\.corrupt-\d{4}-\d\d-\d\dT/);
    expect(readFileSync(reports[0]!.copy, 'utf8')).toBe(`${bad[0]}{"n":6}\n${bad[1]}\n${bad[2]}\n`);
    expect(statSync(reports[0]!.copy).mode & 0o777).toBe(0o600);
  });

  it('reports nothing for a clean file and an absent one', () => {
    const dir = scratch();
    writeFileSync(path.join(dir, 'p.jsonl'), '{"n":1}\n');
    const reports: CorruptReport[] = [];
    const files = new JsonlFiles({ onCorrupt: (r) => reports.push(r) });
    expect(files.load(path.join(dir, 'p.jsonl'), schema)).toEqual([{ n: 1 }]);
    expect(files.load(path.join(dir, 'absent.jsonl'), schema)).toEqual([]);
    expect(reports).toEqual([]);
  });

  it('compacts to a 0600 file and removes temp files of earlier failed starts', () => {
    const dir = scratch();
    const file = path.join(dir, 'p.jsonl');
    writeFileSync(file, '{"n":1}\n{"n":2}\n', { mode: 0o644 });
    writeFileSync(`${file}.12345.tmp`, 'left by a start that failed');
    new JsonlFiles().rewrite(file, [{ n: 2 }]);
    expect(readFileSync(file, 'utf8')).toBe('{"n":2}\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['p.jsonl']);
  });

  it('a compaction that fails leaves the file as it was and no temp file', () => {
    const dir = scratch();
    const file = path.join(dir, 'p.jsonl');
    writeFileSync(file, '{"n":1}\n');
    // The rename onto a directory fails after the temp file was written.
    const target = path.join(dir, 'd.jsonl');
    mkdirSync(path.join(target, 'sub'), { recursive: true });
    expect(() => new JsonlFiles().rewrite(target, [{ n: 1 }])).toThrow(StartupError);
    expect(() => new JsonlFiles().rewrite(target, [{ n: 1 }])).toThrow(/^could not compact .*d\.jsonl: E/);
    expect(readdirSync(dir).sort()).toEqual(['d.jsonl', 'p.jsonl']);
  });
});

describe('storageError: the one errno → error mapping', () => {
  it.each([
    ['ENOSPC', 507, 'storage_full'],
    ['EDQUOT', 507, 'storage_full'],
    ['EROFS', 503, 'storage_unavailable'],
    ['EIO', 503, 'storage_unavailable'],
    ['EACCES', 503, 'storage_unavailable'],
  ])('%s → %i %s, naming the cause', (code, status, errCode) => {
    const e = storageError(errno(code, 'some reason'), 'the process record');
    expect(e).toMatchObject({ status, code: errCode, type: 'api_error' });
    expect(e.message).toBe(`could not write the process record: ${code} (some reason)`);
  });

  it('anything else (a serialization failure) is a 500 that names it', () => {
    expect(storageError(new TypeError('Do not know how to serialize a BigInt'), 'the session log')).toMatchObject({
      status: 500,
      code: 'storage_error',
      message: 'could not write the session log: TypeError: Do not know how to serialize a BigInt',
    });
  });
});

describe('EventBus recorders', () => {
  const event = (): NewEvent => ({
    type: 'PROCESS_QUEUED',
    ts: 1,
    process_id: 'proc_x',
    session_id: 's',
    status: 'queued',
    model: 'sonnet',
    key_id: null,
  });

  it('a failing recorder reaches the publisher and stops the event', async () => {
    const bus = new EventBus(10);
    const seen: string[] = [];
    const failure = new Error('disk full');
    bus.record(() => {
      throw failure;
    });
    bus.record(() => void seen.push('second recorder'));
    bus.subscribe(() => seen.push('subscriber'));
    await expect(bus.publish(event())).rejects.toThrow(failure);
    expect(seen).toEqual([]);
    expect(bus.since(0)).toEqual([]);
  });

  it('best effort: the failure is reported, everyone else still gets the event', async () => {
    const errors: unknown[] = [];
    const bus = new EventBus(10, [], (err) => errors.push(err));
    const seen: string[] = [];
    bus.record(async () => {
      throw new Error('disk full');
    });
    bus.record(() => void seen.push('second recorder'));
    bus.subscribe(() => seen.push('subscriber'));
    await bus.publish(event(), { bestEffort: true });
    expect(seen).toEqual(['second recorder', 'subscriber']);
    expect(errors).toHaveLength(1);
  });

  it('a failing subscriber stays its own problem', async () => {
    const errors: unknown[] = [];
    const bus = new EventBus(10, [], (err) => errors.push(err));
    bus.subscribe(() => {
      throw new Error('socket gone');
    });
    expect((await bus.publish(event())).seq).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('waits for a recorder that answers late, and holds the events after it in seq order', async () => {
    const bus = new EventBus(10);
    const seen: string[] = [];
    let answer!: () => void;
    const late = new Promise<void>((resolve) => (answer = resolve));
    bus.record(async (e) => {
      if (e.seq === 1) await late;
      seen.push(`recorded ${e.seq}`);
    });
    bus.subscribe((e) => seen.push(`told ${e.seq}`));
    const first = bus.publish(event());
    const second = bus.publish(event());
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([]);
    answer();
    expect([(await first).seq, (await second).seq]).toEqual([1, 2]);
    expect(seen).toEqual(['recorded 1', 'told 1', 'recorded 2', 'told 2']);
  });
});
