import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** System prompts reach the CLI as private files (mode 0600) that live as long as their process. */
export class SystemPromptFiles {
  constructor(private readonly dir: string) {}

  async write(text: string | undefined): Promise<string | undefined> {
    if (!text) return undefined;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `system-${randomUUID()}.txt`);
    await writeFile(file, text, { mode: 0o600 });
    return file;
  }

  async remove(file: string | undefined): Promise<void> {
    if (file) await rm(file, { force: true });
  }
}
