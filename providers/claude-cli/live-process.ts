import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ImageBlock } from '../images.js';
import type { FunctionTool, ProviderEvent, ProviderResult, ToolCall } from '../types.js';
import { CLIENT_SERVER } from './args.js';
import { ClientToolBridge } from './client-tools.js';
import { cliFailure } from './failure.js';
import { type Json, parseJsonLine } from './json-line.js';
import { CliOutput, type ToolStop } from './output.js';
import type { ToolResult } from './render.js';
import { mapCliResult, toTokenUsage, totalCost } from './result.js';
import type { CliExit, CliProcess, ProcessGroups } from './spawn.js';
import { stopOnAbort, stopWithGrace } from './stop.js';

export interface LiveProcessOptions {
  bin: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  sessionId: string;
  killGraceMs: number;
  /** Where its process group is tracked (and killed with the gateway). */
  groups: ProcessGroups;
  /** Structured output: every run's answer must be JSON valid against this schema. */
  jsonSchema?: Record<string, unknown>;
  /** The client's functions, answered over the control protocol. */
  clientTools?: { tools: readonly FunctionTool[]; parallel: boolean };
}

/** What a turn starts from: a new user message, or the results a waiting run needs. */
export type TurnInput = { prompt: string; images?: ImageBlock[] } | { toolResults: ToolResult[] };

/** One user message's run, from the message to its result; it outlives a turn when it waits on the client. */
interface Run {
  queue: LineQueue;
  out: CliOutput;
  /** Client calls of the stopped message not yet handed to the client (one at a time, when not parallel). */
  unsurfaced: ToolCall[];
  /** Client calls handed to the client, whose results the run waits for. */
  waiting: ToolCall[];
  stop?: ToolStop;
}

/** Lines for the run that waits on them. */
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
 * the CLI's control requests, interrupts a turn, and closes or kills.
 * Its stdin stays open while it lives; when the gateway dies, the pipe closes and the CLI exits.
 */
export class LiveCliProcess {
  sessionId: string;
  turns = 0;
  readonly exited: Promise<CliExit>;
  /** Resolves true once the CLI has answered the initialize handshake, false if it failed or died. */
  readonly initialized: Promise<boolean>;
  private readonly proc: CliProcess;
  private readonly killer = new AbortController();
  private readonly pending = new Map<string, (response: Json) => void>();
  private readonly bridge: ClientToolBridge | undefined;
  private run: Run | undefined;
  private alive = true;
  /** The CLI's cost total after the last turn: a turn costs what it adds (failed turns count too). */
  private costSoFar = 0;

  constructor(private readonly opts: LiveProcessOptions) {
    this.sessionId = opts.sessionId;
    this.proc = opts.groups.spawnCli({
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
    if (opts.clientTools) {
      this.bridge = new ClientToolBridge(opts.clientTools.tools, opts.clientTools.parallel, (requestId, mcp_response) =>
        this.send({ type: 'control_response', response: { subtype: 'success', request_id: requestId, response: { mcp_response } } }),
      );
    }
    // The SDK's handshake: it registers the client's tool server and the structured-output schema
    // (as the SDK does: `--json-schema` would show it in `ps`), and its answer shows the CLI speaks
    // the long-lived protocol at all, without touching the conversation.
    this.initialized = this.control({
      subtype: 'initialize',
      hooks: {},
      ...(this.bridge ? { sdkMcpServers: [CLIENT_SERVER] } : {}),
      ...(opts.jsonSchema ? { jsonSchema: opts.jsonSchema } : {}),
    }).then((r) => r.subtype === 'success');
    void this.pump();
  }

  /** The ids of the client calls this process's run waits for (empty when it waits for none). */
  get waitingFor(): string[] {
    return this.run?.waiting.map((c) => c.id) ?? [];
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /**
   * One turn: sends the user message (or the results a waiting run needs) and yields the events,
   * ending with a result: the run's own, or a `tool_calls` one when the model calls client
   * functions (the run then waits in this process for the next turn). On abort the turn is
   * interrupted (the process stays usable); if the CLI does not stop within the kill grace period
   * the process is killed. Either way the iterator then throws `signal.reason`.
   */
  async *turn(input: TurnInput, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const run = this.startTurn(input);
    const parallel = this.opts.clientTools?.parallel ?? true;
    const release = stopOnAbort(signal, () => void this.control({ subtype: 'interrupt' }), () => this.kill(), this.opts.killGraceMs);
    let done = false;
    try {
      // Calls of a stopped message still to hand out, one at a time: no need to ask the CLI.
      if (run.unsurfaced.length && !signal.aborted) {
        done = true;
        yield { type: 'result', result: this.surface(run) };
        return;
      }
      for (let line = await run.queue.next(); line !== undefined; line = await run.queue.next()) {
        const events = run.out.push(line);
        // One call at a time: only the first of a message's calls is streamed as it is generated.
        if (!signal.aborted) yield* parallel ? events : events.filter((e) => !('index' in e) || e.index === 0);
        if (run.out.result) {
          this.run = undefined;
          this.bridge?.reset();
          if (signal.aborted) break;
          done = true;
          yield { type: 'result', result: this.turnResult(run.out) };
          return;
        }
        if (run.out.toolStop && !signal.aborted) {
          run.stop = run.out.toolStop;
          run.out.toolStop = undefined;
          run.unsurfaced = [...run.stop.calls];
          done = true;
          yield { type: 'result', result: this.surface(run) };
          return;
        }
      }
      this.run = undefined;
      if (signal.aborted) throw signal.reason;
      throw cliFailure(this.opts.bin, await this.exited, run.out.excerpt(), this.sessionId);
    } finally {
      release();
      if (signal.aborted && this.run === run) this.run = undefined;
      // A turn abandoned half-way (its consumer stopped) leaves the process in an unknown state.
      if (!done && this.alive && !signal.aborted && this.run === run) this.kill();
    }
  }

  /** Interrupts a run that waits for the client; the process stays for its session. */
  async cancelWaiting(): Promise<void> {
    const run = this.run;
    if (!run) return;
    this.bridge?.reset();
    const release = stopWithGrace(() => void this.control({ subtype: 'interrupt' }), () => this.kill(), this.opts.killGraceMs);
    for (let line = await run.queue.next(); line !== undefined; line = await run.queue.next()) {
      run.out.push(line);
      if (run.out.result) break;
    }
    release();
    this.run = undefined;
  }

  private startTurn(input: TurnInput): Run {
    if ('prompt' in input) {
      if (this.run) throw new Error('a run is already going on in this process');
      const run: Run = { queue: new LineQueue(), out: new CliOutput(true), unsurfaced: [], waiting: [] };
      if (!this.alive) run.queue.end();
      this.run = run;
      this.turns++;
      const content = input.images?.length ? [{ type: 'text', text: input.prompt }, ...input.images] : input.prompt;
      this.send({ type: 'user', message: { role: 'user', content }, parent_tool_use_id: null, session_id: '' });
      return run;
    }
    const run = this.run;
    if (!run || !this.bridge) throw new Error('no run waits for tool results in this process');
    run.waiting = [];
    this.bridge.answer(input.toolResults);
    return run;
  }

  /** The turn's result, costing what it added to the process's total. */
  private turnResult(out: CliOutput): ProviderResult {
    const before = this.costSoFar;
    const total = totalCost(out.result);
    this.costSoFar = total ?? before;
    return { ...mapCliResult(out.result, out, Boolean(this.opts.jsonSchema)), costUsd: total === null ? null : total - before };
  }

  /** The next client calls to hand out (all of them, or one when calls are not parallel). */
  private surface(run: Run): ProviderResult {
    const stop = run.stop!;
    const parallel = this.opts.clientTools?.parallel ?? true;
    const calls = parallel ? run.unsurfaced.splice(0) : run.unsurfaced.splice(0, 1);
    run.waiting = calls;
    const first = calls[0] === stop.calls[0];
    return {
      // The model's words before its calls go out once, with the first of them.
      text: first ? stop.text : '',
      toolCalls: calls,
      sessionId: this.sessionId,
      finishReason: 'tool_calls',
      // So does the message's usage: counted once over all its calls.
      usage: first ? toTokenUsage(stop.usage) : { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 },
      raw: {
        type: 'tool_calls',
        session_id: this.sessionId,
        api_message_id: stop.messageId,
        stop_reason: 'tool_use',
        tool_calls: calls,
        waiting_for: calls.map((c) => c.id),
      },
    };
  }

  /** Sends a control request and resolves with the CLI's response. */
  control(request: Json): Promise<Json> {
    const id = `gw_${randomUUID()}`;
    return new Promise((resolve) => {
      if (!this.alive) return resolve({ subtype: 'error', error: 'process exited' });
      this.pending.set(id, resolve);
      this.send({ type: 'control_request', request_id: id, request });
    });
  }

  private send(message: Json): void {
    this.proc.write(`${JSON.stringify(message)}\n`);
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
    const release = stopWithGrace(() => this.proc.endInput(), () => this.kill(), this.opts.killGraceMs);
    const exit = await this.exited;
    release();
    return exit;
  }

  kill(): void {
    this.killer.abort();
  }

  /** Routes every stdout line: control traffic here, everything else to the current turn. */
  private async pump(): Promise<void> {
    for await (const line of this.proc.lines) {
      const msg = line.startsWith('{"type":"control') ? parseJsonLine(line) : undefined;
      if (msg?.type === 'control_response') {
        const id = msg.response?.request_id;
        this.pending.get(id)?.(msg.response);
        this.pending.delete(id);
        continue;
      }
      if (msg?.type === 'control_request') {
        if (msg.request?.subtype === 'mcp_message' && this.bridge) {
          this.bridge.onMessage(msg.request_id, msg.request.message ?? {});
        } else {
          // No permission prompts from the host: refuse, so the CLI never waits on us.
          this.send({ type: 'control_response', response: { subtype: 'error', request_id: msg.request_id, error: 'not supported by this gateway' } });
        }
        continue;
      }
      this.run?.queue.push(line);
    }
    await this.exited;
    this.run?.queue.end();
  }
}
