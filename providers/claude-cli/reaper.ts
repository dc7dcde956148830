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

let reaper: ChildProcess | undefined;

function reaperProcess(): ChildProcess | undefined {
  if (reaper && reaper.exitCode === null && reaper.signalCode === null) return reaper;
  try {
    reaper = spawn(process.execPath, ['-e', REAPER], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    reaper.on('error', () => {});
    reaper.stdin?.on('error', () => {});
    // Neither the child nor its pipe may keep the gateway's event loop alive.
    reaper.unref();
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return reaper;
  } catch {
    return undefined;
  }
}

/** Tells the watchdog that a CLI process group started (`+`) or ended (`-`). */
export function reaperTrack(pgid: number, alive: boolean): void {
  reaperProcess()?.stdin?.write(`${alive ? '+' : '-'}${pgid}\n`);
}
