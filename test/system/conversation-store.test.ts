// The conversations kept for sessions on stateless providers, as real files in a temp directory:
// turns round-trip across store instances (a restart), a turn torn by a crash reads as absent, a
// full disk leaves nothing, files are owner-only whatever the umask, and ids never escape the directory.
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../providers/types.js';
import { loadConfig } from '../../src/config.js';
import { StorageError } from '../../src/core/errors.js';
import { createLogger } from '../../src/http/logger.js';
import { JsonlConversationStore } from '../../src/stores/jsonl/conversation-store.js';
import { conversationsDir, prepareDirectories } from '../../src/stores/jsonl/data-dirs.js';
import { JsonlFiles, type WriteFn } from '../../src/stores/jsonl/jsonl-file.js';
import { openJsonlStorage } from '../../src/stores/jsonl/storage.js';

const dirs: string[] = [];
const open: JsonlFiles[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.closeAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'gw-conversations-'));
  dirs.push(d);
  return d;
}

function store(dir: string, opts: { write?: WriteFn; onUnreadable?: (file: string, skipped: number) => void } = {}) {
  const files = new JsonlFiles({ write: opts.write });
  open.push(files);
  return new JsonlConversationStore(dir, files, { onUnreadable: opts.onUnreadable });
}

const mode = (p: string) => statSync(p).mode & 0o777;
const text = (t: string) => [{ type: 'text' as const, text: t }];
const user = (t: string): Message => ({ role: 'user', content: text(t) });
const assistant = (t: string, toolCalls: { id: string; name: string; arguments: string }[] = []): Message => ({
  role: 'assistant',
  content: t ? text(t) : [],
  toolCalls,
});
const turn1: Message[] = [
  user('weather?'),
  { role: 'user', content: [{ type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' }] },
  assistant('', [{ id: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}' }]),
];
const turn2: Message[] = [{ role: 'tool', toolCallId: 'c1', content: text('sunny') }, assistant('It is sunny.')];

describe('JsonlConversationStore', () => {
  it('round-trips turns in order, one line each, and a new instance (a restart) reads the same', async () => {
    const dir = path.join(scratch(), 'conversations');
    const id = randomUUID();
    const a = store(dir);
    expect(await a.history(id)).toEqual([]);
    await a.append(id, turn1);
    await a.append(id, turn2);
    expect(await a.history(id)).toEqual([...turn1, ...turn2]);
    const lines = readFileSync(path.join(dir, `${id}.jsonl`), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { ts: expect.any(Number), messages: turn1 },
      { ts: expect.any(Number), messages: turn2 },
    ]);

    const b = store(dir);
    expect(await b.history(id)).toEqual([...turn1, ...turn2]);
    // Sessions do not mix.
    expect(await b.history(randomUUID())).toEqual([]);
  });

  it('ignores a turn torn by a crash, and appends whole turns after it', async () => {
    const dir = scratch();
    const id = randomUUID();
    const file = path.join(dir, `${id}.jsonl`);
    await store(dir).append(id, turn1);
    appendFileSync(file, JSON.stringify({ ts: 1, messages: turn2 }).slice(0, 40)); // the crash
    const reports: [string, number][] = [];
    const s = store(dir, { onUnreadable: (f, n) => reports.push([f, n]) });
    expect(await s.history(id)).toEqual(turn1);
    expect(reports).toEqual([[file, 1]]);

    // The next append ends the torn line first: it now stands in the middle, and is still skipped.
    await s.append(id, [user('again'), assistant('ok')]);
    expect(await s.history(id)).toEqual([...turn1, user('again'), assistant('ok')]);
  });

  it('skips a line that parses but is no turn, rather than handing the provider a malformed message', async () => {
    const dir = scratch();
    const id = randomUUID();
    writeFileSync(path.join(dir, `${id}.jsonl`), `${JSON.stringify({ ts: 1, messages: [{ role: 'wizard' }] })}\n`);
    await store(dir).append(id, turn2);
    expect(await store(dir).history(id)).toEqual(turn2);
  });

  it('writes a turn whole or not at all: a full disk is a StorageError and leaves the earlier turns', async () => {
    const dir = scratch();
    const id = randomUUID();
    let full = false;
    const write: WriteFn = (fd, buf, offset, length) => {
      if (!full) return writeSync(fd, buf, offset, length);
      if (offset === 0) return writeSync(fd, buf, 0, Math.floor(length / 2));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    const s = store(dir, { write });
    await s.append(id, turn1);
    full = true;
    const err = await s.append(id, turn2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).status).toBe(507);
    expect((err as StorageError).message).toBe('could not write the conversation: ENOSPC (no space left on device)');
    expect(readFileSync(path.join(dir, `${id}.jsonl`), 'utf8').endsWith('\n')).toBe(true);
    expect(await s.history(id)).toEqual(turn1);
    full = false;
    await s.append(id, turn2);
    expect(await s.history(id)).toEqual([...turn1, ...turn2]);
  });

  it('removes a conversation (an open descriptor included); removing none is no error', async () => {
    const dir = scratch();
    const id = randomUUID();
    const s = store(dir);
    await s.append(id, turn1);
    await s.remove(id);
    expect(existsSync(path.join(dir, `${id}.jsonl`))).toBe(false);
    expect(await s.history(id)).toEqual([]);
    await s.remove(id);
    await s.remove(randomUUID());
    // A session started again under the same id starts empty.
    await s.append(id, turn2);
    expect(await store(dir).history(id)).toEqual(turn2);
  });

  it('makes its directory 0700 and its files 0600, even under umask 0', async () => {
    const dir = path.join(scratch(), 'data', 'conversations');
    const id = randomUUID();
    const previous = process.umask(0);
    try {
      await store(dir).append(id, turn1);
    } finally {
      process.umask(previous);
    }
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, `${id}.jsonl`))).toBe(0o600);
  });

  it('refuses a session id that is not a safe file name, touching no file', async () => {
    const root = scratch();
    const dir = path.join(root, 'conversations');
    mkdirSync(dir);
    writeFileSync(path.join(root, 'secret.jsonl'), `${JSON.stringify({ ts: 1, messages: turn1 })}\n`);
    const s = store(dir);
    for (const id of ['../secret', '..', '.hidden', '', 'a/b', 'a\\b', '-rf', 'a.b', 'x'.repeat(200), 'a\0b']) {
      await expect(s.history(id), id).rejects.toThrow(/not a safe file name/);
      await expect(s.append(id, turn1), id).rejects.toThrow(/not a safe file name/);
      await expect(s.remove(id), id).rejects.toThrow(/not a safe file name/);
    }
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(path.join(root, 'secret.jsonl'))).toBe(true);
  });
});

describe('wiring', () => {
  it('prepareDirectories creates $DATA_DIR/conversations 0700 and openJsonlStorage keeps conversations there', async () => {
    const data = scratch();
    const config = loadConfig({ DATA_DIR: data, CLAUDE_WORKDIR: path.join(data, 'workspace'), LOG_LEVEL: 'silent' });
    prepareDirectories(config, (message) => {
      throw new Error(message);
    });
    const dir = conversationsDir(data);
    expect(dir).toBe(path.join(data, 'conversations'));
    expect(mode(dir)).toBe(0o700);

    const id = randomUUID();
    const storage = openJsonlStorage(config, createLogger('silent'));
    await storage.conversations.append(id, turn1);
    await storage.close();
    expect(mode(path.join(dir, `${id}.jsonl`))).toBe(0o600);
    const again = openJsonlStorage(config, createLogger('silent'));
    expect(await again.conversations.history(id)).toEqual(turn1);
    await again.close();
  });
});
