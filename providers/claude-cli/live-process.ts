import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ProviderEvent } from '../types.js';
import { cliFailure } from './failure.js';
import { CliOutput } from './output.js';
import { mapCliResult } from './result.js';
import { type CliExit, type CliProcess, spawnCli } from './spawn.js';

export interface LiveProcessOptions {
  bin: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  sessionId: string;
  killGraceMs: number;
}

type Json = Record<string, any>;

/** Lines for whoever waits on them: the running turn, a /clear, nobody. */
class LineQueue {
  private readonly lines: string[] = [];
  private waiter: ((line: string | undefined) => void) | undefined;
  private ended = false;

  push(line: string): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(line);
    } else {
      this.lines.push(line);
    }
  }

  end(): void {
    this.ended = true;
    this.waiter?.(undefined);
    this.waiter = undefined;
  }

  /** The next line, or undefined once the process is gone. */
  next(): Promise<string | undefined> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

/**
 * One long-lived CLI process (stream-json in and out): the single abstraction behind the warm pool
 * and hot sessions. It spawns, sends one user message per turn and reads its typed events, answers
 * the CLI's control requests, interrupts a turn, resets itself with /clear, and closes or kills.
 * Its stdin stays open while it lives; when the gateway dies, the pipe closes and the CLI exits.
 */
export class LiveCliProcess {
  sessionId: string;
  turns = 0;
  readonly exited: Promise<CliExit>;
  private readonly proc: CliProcess;
  private readonly killer = new AbortController();
  private readonly pending = new Map<string, (response: Json) => void>();
  private queue: LineQueue | undefined;
  private alive = true;

  constructor(private readonly opts: LiveProcessOptions) {
    this.sessionId = opts.sessionId;
    this.proc = spawnCli({
      bin: opts.bin,
      args: opts.args,
      cwd: opts.cwd,
      env: opts.env,
      signal: this.killer.signal,
      killGraceMs: opts.killGraceMs,
    });
    this.exited = this.proc.exit.then((exit) => {
      this.alive = false;
      for (const resolve of this.pending.values()) resolve({ subtype: 'error', error: 'process exited' });
      this.pending.clear();
      return exit;
    });
    void this.pump();
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /**
   * One turn: writes the user message and yields its events, ending with the result. On abort the
   * turn is interrupted (the process stays usable); if the CLI does not finish the turn within the
   * kill grace period, the process is killed. Either way the iterator then throws `signal.reason`.
   */
  async *turn(prompt: string, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const queue = this.claimQueue();
    const out = new CliOutput(true);
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      void this.control({ subtype: 'interrupt' });
      killTimer = setTimeout(() => this.kill(), this.opts.killGraceMs);
    };
    this.turns++;
    try {
      this.proc.write(`${JSON.stringify({ type: 'user', message: { role: 'user', content: prompt }, parent_tool_use_id: null, session_id: '' })}\n`);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      for (let line = await queue.next(); line !== undefined; line = await queue.next()) {
        const events = out.push(line);
        if (!signal.aborted) yield* events;
        if (!out.result) continue;
        if (signal.aborted) break;
        yield { type: 'result', result: mapCliResult(out.result, out.excerpt()) };
        return;
      }
      if (signal.aborted) throw signal.reason;
      throw cliFailure(this.opts.bin, await this.exited, out.excerpt(), this.sessionId);
    } finally {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      this.queue = undefined;
      // A turn abandoned half-way (its consumer stopped) leaves the process in an unknown state.
      if (!out.result && this.alive && !signal.aborted) this.kill();
    }
  }

  /** Resets the conversation: the process then serves a new session (its id from the CLI). */
  async clear(): Promise<void> {
    const queue = this.claimQueue();
    try {
      this.proc.write(`${JSON.stringify({ type: 'user', message: { role: 'user', content: '/clear' }, parent_tool_use_id: null, session_id: '' })}\n`);
      for (let line = await queue.next(); line !== undefined; line = await queue.next()) {
        if (line.includes('"type":"result"')) return;
      }
      throw new Error('the CLI exited during /clear');
    } finally {
      this.queue = undefined;
    }
  }

  /** Sends a control request and resolves with the CLI's response. */
  control(request: Json): Promise<Json> {
    const id = `gw_${randomUUID()}`;
    return new Promise((resolve) => {
      if (!this.alive) return resolve({ subtype: 'error', error: 'process exited' });
      this.pending.set(id, resolve);
      this.proc.write(`${JSON.stringify({ type: 'control_request', request_id: id, request })}\n`);
    });
  }

  /** Resident memory in MiB, from /proc (undefined where that is not readable). */
  rssMb(): number | undefined {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Closes stdin so the CLI exits by itself; killed if it has not after the grace period. */
  async close(): Promise<CliExit> {
    this.proc.endInput();
    const timer = setTimeout(() => this.kill(), this.opts.killGraceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  kill(): void {
    this.killer.abort();
  }

  private claimQueue(): LineQueue {
    if (this.queue) throw new Error('a turn is already running on this process');
    this.queue = new LineQueue();
    if (!this.alive) this.queue.end();
    return this.queue;
  }

  /** Routes every stdout line: control traffic here, everything else to the current turn. */
  private async pump(): Promise<void> {
    for await (const line of this.proc.lines) {
      const msg = line.startsWith('{"type":"control') || line.includes('"conversation_reset"') ? parse(line) : undefined;
      if (msg?.type === 'control_response') {
        const id = msg.response?.request_id;
        this.pending.get(id)?.(msg.response);
        this.pending.delete(id);
        continue;
      }
      if (msg?.type === 'control_request') {
        // No host-side tools or permission prompts yet: refuse, so the CLI never waits on us.
        this.proc.write(
          `${JSON.stringify({ type: 'control_response', response: { subtype: 'error', request_id: msg.request_id, error: 'not supported by this gateway' } })}\n`,
        );
        continue;
      }
      if (msg?.type === 'conversation_reset' && typeof msg.new_conversation_id === 'string') {
        this.sessionId = msg.new_conversation_id;
      }
      this.queue?.push(line);
    }
    await this.exited;
    this.queue?.end();
  }
}

function parse(line: string): Json | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
