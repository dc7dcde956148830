import { type ChildProcess, spawn } from 'node:child_process';

/**
 * A tiny watchdog process that outlives the gateway by a moment: the gateway tells it, on a pipe,
 * which CLI process groups are alive; when that pipe closes (the gateway exited, even by SIGKILL),
 * it kills them all. Its own process group, so a signal to the gateway's group does not take it first.
 */
const REAPER = `
const groups = new Set();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const pid = Number(line.slice(1));
    if (line[0] === '+') groups.add(pid); else groups.delete(pid);
  }
});
process.stdin.on('end', () => {
  for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch {} }
  process.exit(0);
});
`;

/**
 * The watchdog of one set of process groups, started when the first group is tracked. `close` ends
 * it: it kills the groups it still tracks as it goes.
 */
export class Reaper {
  private child: ChildProcess | undefined;

  /** Tells the watchdog that a CLI process group started (`+`) or ended (`-`). */
  track(pgid: number, alive: boolean): void {
    // An end needs no watchdog started for it.
    const child = alive ? this.running() : this.child;
    child?.stdin?.write(`${alive ? '+' : '-'}${pgid}\n`);
  }

  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private running(): ChildProcess | undefined {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    try {
      const child = spawn(process.execPath, ['-e', REAPER], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      child.on('error', () => {});
      child.stdin?.on('error', () => {});
      // Neither the child nor its pipe may keep the gateway's event loop alive.
      child.unref();
      (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      this.child = child;
      return child;
    } catch {
      return undefined;
    }
  }
}
