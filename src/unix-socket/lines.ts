const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines (`\n` or `\r\n`), each at most `limit` bytes: what has no newline
 * yet is kept, never more than the limit. Blank lines are skipped. UTF-8 is decoded per whole line,
 * so a character split across chunks arrives intact. Once a line runs over the limit the stream
 * cannot be read on: `overflowed` is set and nothing more is taken.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private over = false;

  constructor(readonly limit: number) {}

  /** A line ran over the limit. */
  get overflowed(): boolean {
    return this.over;
  }

  /** The lines completed by `chunk` (those before an overlong one, when it runs over). */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    while (!this.over) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        this.take(chunk.subarray(start));
        break;
      }
      if (this.take(chunk.subarray(start, nl))) {
        const line = Buffer.concat(this.pending, this.pendingBytes).toString('utf8').replace(/\r$/, '');
        if (line.trim()) lines.push(line);
      }
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
    }
    return lines;
  }

  /** Keeps a part of the current line; false once the line is over the limit. */
  private take(part: Buffer): boolean {
    if (this.over) return false;
    this.pendingBytes += part.length;
    if (this.pendingBytes > this.limit) {
      this.over = true;
      this.pending = [];
      return false;
    }
    if (part.length) this.pending.push(part);
    return true;
  }
}
