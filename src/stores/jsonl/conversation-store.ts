import { chmodSync, mkdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { chatRequestSchema, type Message } from '../../../providers/types.js';
import { storageError } from '../../core/errors.js';
import type { ConversationStore } from '../../core/ports.js';
import { nowSeconds } from '../../core/process-types.js';
import { PRIVATE_DIR } from './data-dirs.js';
import type { JsonlFiles } from './jsonl-file.js';

/** One line: one turn, what the client added and the answer. */
const turnSchema = z.object({ ts: z.number(), messages: z.array(chatRequestSchema.shape.messages.element) });

/**
 * Session ids are validated UUIDs before they get here; this refuses anything else that could
 * escape the directory or hide a file (no separators, no dots, no leading dash), whatever the caller.
 */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export interface ConversationStoreOptions {
  /** Told when a file had lines that were skipped on read (a turn torn by a crash, or worse). */
  onUnreadable?(file: string, skipped: number): void;
}

/**
 * The conversations of sessions on stateless providers: `<dir>/<session_id>.jsonl`, one line per
 * turn `{ts, messages}`. A turn is one line written in one append, so a failed write leaves nothing
 * (JsonlFiles cuts it back) and a crash can tear only that turn, which reads as absent.
 */
export class JsonlConversationStore implements ConversationStore {
  /** The directory is known to exist. */
  private dirReady = false;

  constructor(
    private readonly dir: string,
    private readonly files: JsonlFiles,
    private readonly opts: ConversationStoreOptions = {},
  ) {}

  async history(sessionId: string): Promise<Message[]> {
    const file = this.file(sessionId);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw storageError(err, 'the conversation');
    }
    const messages: Message[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const turn = parseTurn(line);
      if (turn) messages.push(...turn.messages);
      else skipped++;
    }
    // A torn turn is no longer only the last line once the next append has ended it: any is skipped.
    if (skipped) this.opts.onUnreadable?.(file, skipped);
    return messages;
  }

  async append(sessionId: string, messages: Message[]): Promise<void> {
    const file = this.file(sessionId);
    // Made once (a syscall per turn otherwise); a failed append makes sure again, in case it was removed.
    if (!this.dirReady) this.ensureDir();
    this.dirReady = true;
    try {
      this.files.append(file, { ts: nowSeconds(), messages }, 'the conversation');
    } catch (err) {
      this.dirReady = false;
      throw err;
    }
  }

  async remove(sessionId: string): Promise<void> {
    const file = this.file(sessionId);
    this.files.close(file);
    await rm(file, { force: true }).catch((err: unknown) => {
      throw storageError(err, 'the conversation');
    });
  }

  private file(sessionId: string): string {
    if (!SAFE_NAME.test(sessionId)) throw new Error(`refusing a session id that is not a safe file name: ${JSON.stringify(sessionId)}`);
    return path.join(this.dir, `${sessionId}.jsonl`);
  }

  /** Also when data-dirs.ts did not run (storage opened alone, in tests): owner-only like the rest. */
  private ensureDir(): void {
    try {
      if (mkdirSync(this.dir, { recursive: true, mode: PRIVATE_DIR }) !== undefined) chmodSync(this.dir, PRIVATE_DIR);
    } catch (err) {
      throw storageError(err, 'the conversation');
    }
  }
}

function parseTurn(line: string): z.output<typeof turnSchema> | undefined {
  try {
    const parsed = turnSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // a torn line
  }
}
