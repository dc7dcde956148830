import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { Reaper } from './reaper.js';
import { stopOnAbort } from './stop.js';

export interface CliExit {
  exitCode?: number;
  signal?: string;
  stderr: string;
  /** Set when the executable could not be started at all (ENOENT, EACCES, …). */
  spawnError?: string;
}

export interface CliProcess {
  pid: number | undefined;
  /** stdout, line by line, as the CLI writes it. */
  lines: AsyncIterable<string>;
  exit: Promise<CliExit>;
  /** Writes to stdin (only when it was left open). */
  write(data: string): void;
  /** Closes stdin: a long-lived CLI exits once its work is done. */
  endInput(): void;
}

export interface SpawnOptions {
  bin: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Written to stdin, which is then closed; without it stdin stays open for `write`. */
  stdin?: string;
  signal: AbortSignal;
  killGraceMs: number;
}

const STDERR_MAX = 16 * 1024;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

/**
 * A provider's CLI processes, each spawned as the leader of its own process group (no shell, prompt
 * on stdin), so that a cancel, a deadline or the gateway's exit kills it and everything it started:
 * SIGTERM to the group, SIGKILL after the grace period. When the gateway exits the groups still alive
 * are killed at once, and a watchdog (reaper.ts) kills them when it dies otherwise, even by SIGKILL.
 */
export class ProcessGroups {
  private readonly live = new Set<number>();
  private readonly reaper = new Reaper();
  private readonly killAll = () => {
    for (const pid of this.live) killGroup(pid, 'SIGKILL');
  };

  /** Number of CLI process groups alive (for tests). */
  get size(): number {
    return this.live.size;
  }

  /** Stops the watchdog, which kills the groups still alive as it goes. */
  close(): void {
    process.off('exit', this.killAll);
    this.reaper.close();
  }

  /** Spawns the CLI as the leader of a new process group, tracked until it exits. */
  spawnCli(opts: SpawnOptions): CliProcess {
    const sub = execa(opts.bin, opts.args, {
      cwd: opts.cwd,
      env: opts.env,
      extendEnv: false,
      ...(opts.stdin !== undefined ? { input: opts.stdin } : { stdin: 'pipe' as const }),
      detached: true,
      reject: false,
      buffer: false,
      stripFinalNewline: false,
    });
    const pid = sub.pid;
    let stderr = '';
    sub.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < STDERR_MAX) stderr += chunk.toString('utf8');
    });

    let release = () => {};
    if (pid !== undefined) {
      this.add(pid);
      release = stopOnAbort(opts.signal, () => killGroup(pid, 'SIGTERM'), () => killGroup(pid, 'SIGKILL'), opts.killGraceMs);
    }

    const exit = sub.then((r) => {
      release();
      if (pid !== undefined) {
        // Whatever the CLI left behind in its group (tool subprocesses) goes with it.
        killGroup(pid, 'SIGKILL');
        this.remove(pid);
        // The CLI's messaging socket outlives a SIGKILL and some error exits: not ours to keep.
        rm(path.join(os.tmpdir(), 'cc-socks', `${pid}.sock`), { force: true }).catch(() => {});
      }
      const spawnError =
        pid === undefined || (r.failed && r.exitCode === undefined && r.signal === undefined)
          ? ((r as { code?: string }).code ?? r.shortMessage)
          : undefined;
      return { exitCode: r.exitCode, signal: r.signal, stderr: stderr.slice(0, STDERR_MAX), spawnError };
    });

    async function* lines(): AsyncGenerator<string> {
      if (pid === undefined) return;
      try {
        for await (const line of sub.iterable({ from: 'stdout' })) yield line;
      } catch {
        // stdout errors surface through the exit status
      }
    }

    // A closed pipe (the CLI died) must not crash the gateway: the exit status tells what happened.
    sub.stdin?.on('error', () => {});
    return {
      pid,
      lines: lines(),
      exit,
      write: (data) => {
        if (sub.stdin?.writable) sub.stdin.write(data);
      },
      endInput: () => sub.stdin?.end(),
    };
  }

  private add(pid: number): void {
    // The exit hook is there only while something is alive to kill.
    if (this.live.size === 0) process.on('exit', this.killAll);
    this.live.add(pid);
    this.reaper.track(pid, true);
  }

  private remove(pid: number): void {
    this.live.delete(pid);
    this.reaper.track(pid, false);
    if (this.live.size === 0) process.off('exit', this.killAll);
  }
}
