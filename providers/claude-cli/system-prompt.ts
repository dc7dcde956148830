import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ProviderError } from '../types.js';

/** What this class names its files: `<kind>-<uuid>.<ext>`. */
const OURS = /^(system|settings)-[0-9a-f-]{36}\.(txt|json)$/;

/**
 * Request data the CLI reads from files (system prompts; permission rules as `--settings`) reaches
 * it as private files (mode 0600, in a 0700 directory) that live as long as their process: on the
 * command line it would be visible in `ps` to every local user.
 */
export class SystemPromptFiles {
  /** Files written and not yet removed. */
  private readonly live = new Set<string>();

  constructor(private readonly dir: string) {}

  async write(text: string | undefined, kind: 'system' | 'settings' = 'system'): Promise<string | undefined> {
    if (!text) return undefined;
    const file = path.join(this.dir, `${kind}-${randomUUID()}.${kind === 'settings' ? 'json' : 'txt'}`);
    this.live.add(file);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFile(file, text, { mode: 0o600 });
    } catch (err) {
      // No partial file stays; the request fails as a storage failure (a full disk, say), not an internal error.
      await this.remove(file);
      throw new ProviderError('storage', `could not write the ${kind === 'settings' ? 'settings' : 'system prompt'} file for the CLI`, {
        cause: err,
      });
    }
    return file;
  }

  async remove(...files: (string | undefined)[]): Promise<void> {
    await Promise.all(
      files.map(async (file) => {
        if (!file) return;
        try {
          await rm(file, { force: true });
        } catch {
          return; // best effort, never a rejection nobody awaits: kept for removeAll and the next start's sweep
        }
        // Only once it is gone: removeAll (at close) must still see a removal that is under way.
        this.live.delete(file);
      }),
    );
  }

  /** Removes every file still there. */
  async removeAll(): Promise<void> {
    await this.remove(...this.live);
  }

  /** Removes the files an earlier gateway left behind when it died before its processes ended. */
  sweep(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return; // not there yet
    }
    for (const name of names) if (OURS.test(name)) rmSync(path.join(this.dir, name), { force: true });
  }
}
