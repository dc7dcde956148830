import { access, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  type ChatRequest,
  type Lifecycle,
  type Provider,
  type ProviderCapabilities,
  ProviderError,
  type ProviderErrorKind,
  type ProviderEvent,
  type ProviderHealth,
  type RunSession,
  type SessionReservation,
  type SessionStore,
  type WaitingRunLoss,
  type WaitingRuns,
} from '../types.js';
import { liveArgs, profileOf, writeSpawnFiles } from './args.js';
import { childEnv, runEnv } from './env.js';
import { excerpt, spawnFailure } from './failure.js';
import { LiveCliProcess } from './live-process.js';
import { missingCredentials } from './credentials.js';
import { listModels, resolveModel } from './models.js';
import { type OneShotContext, runOneShot } from './one-shot.js';
import { type PoolOptions, ProcessPool } from './pool.js';
import { type CliRequest, type PreparedRequest, type SpawnProfile, placeRequest, prepareRequest } from './request.js';
import { ProcessGroups } from './spawn.js';
import { StructuredOutputSchemas } from './structured-output.js';
import { SystemPromptFiles } from './system-prompt.js';

export interface ClaudeCliOptions {
  bin: string;
  claudeConfigDir: string;
  envPassthrough: readonly string[];
  /** Claude Code tools' subprocesses run in the CLI's sandbox, without its credentials (env.ts). */
  toolSandbox: boolean;
  killGraceMs: number;
  /** The Claude Code tools a request may enable at most (ALLOWED_TOOLS). */
  allowedTools: readonly string[];
  /** A private directory for per-run files (system prompts). */
  tmpDir: string;
  /** The gateway's environment, filtered into the child's. */
  parentEnv?: NodeJS.ProcessEnv;
  /** Long-lived processes (warm pool, hot sessions); without it every run is a one-shot `claude -p`. */
  pool?: Omit<PoolOptions, 'spawn' | 'onError' | 'onRunLost'>;
  /** Failures nobody waits for (a warm process that could not be spawned). */
  onError?(err: unknown): void;
  /**
   * A CLI process was started: a pooled one once it answered the initialize handshake (with its
   * start-up time; undefined when it never did), a one-shot `claude -p` as it starts (for metrics).
   */
  onSpawn?(mode: 'pooled' | 'one_shot', startupSeconds?: number): void;
  /**
   * How often the CLI retries a failed API call by itself (CLAUDE_CODE_MAX_RETRIES): the gateway's
   * retry policy, which bounds the CLI's own retry storm (ten retries over minutes by default).
   */
  maxRetries?: number;
}

/** How long `claude --version` may take before the CLI counts as broken. */
const CHECK_TIMEOUT_MS = 15_000;

/** Failures of a turn that mean its pooled process died under it (worth one more try on a new one). */
const PROCESS_DIED: ReadonlySet<ProviderErrorKind> = new Set(['bad_output', 'cancelled']);

export class ClaudeCliProvider
  implements Provider<PreparedRequest>, SessionReservation<PreparedRequest>, WaitingRuns, SessionStore, Lifecycle
{
  readonly name = 'claude-cli';
  readonly capabilities: ProviderCapabilities<PreparedRequest>;
  private readonly ctx: OneShotContext;
  private readonly schemas = new StructuredOutputSchemas();
  private readonly pool: ProcessPool | undefined;
  private readonly lostRunListeners: ((sessionId: string, why: WaitingRunLoss) => void)[] = [];

  constructor(private readonly opts: ClaudeCliOptions) {
    const env = childEnv(opts.parentEnv ?? process.env, {
      claudeConfigDir: opts.claudeConfigDir,
      passthrough: opts.envPassthrough,
    });
    if (opts.maxRetries !== undefined) env.CLAUDE_CODE_MAX_RETRIES = String(opts.maxRetries);
    this.ctx = {
      bin: opts.bin,
      env,
      toolSandbox: opts.toolSandbox,
      killGraceMs: opts.killGraceMs,
      prompts: new SystemPromptFiles(opts.tmpDir),
      groups: new ProcessGroups(),
    };
    // Also with POOL_SIZE=0: client functions need a long-lived process to wait in.
    if (opts.pool) {
      this.pool = new ProcessPool({
        ...opts.pool,
        spawn: (p, s) => this.spawnLive(p, s),
        onError: opts.onError,
        onRunLost: (sessionId, why) => {
          for (const listener of this.lostRunListeners) listener(sessionId, why);
        },
      });
    }
    // Sessions are reserved from, and runs wait in, pooled processes only.
    const pooled = this.pool ? { sessionReservation: this, waitingRuns: this } : {};
    this.capabilities = { ...pooled, sessionStore: this, lifecycle: this, retriesItself: true };
  }

  /**
   * Pooled (long-lived) unless the pool is off and nothing needs a process that stays, or its control
   * protocol: client functions and the structured-output schema (which, sent in the initialize
   * request, stays out of argv) do.
   */
  private pooled(req: CliRequest): ProcessPool | undefined {
    if (!this.pool) return undefined;
    // Images go in a stream-json user message, which `-p` with text on stdin cannot carry.
    const needsLive = req.clientTools.length || req.toolResults || req.jsonSchema || req.images.length;
    return (this.opts.pool!.size > 0 && this.pool.verified) || needsLive ? this.pool : undefined;
  }

  onWaitingRunLost(listener: (sessionId: string, why: WaitingRunLoss) => void): void {
    this.lostRunListeners.push(listener);
  }

  async cancelWaitingRun(sessionId: string): Promise<void> {
    await this.pool?.cancelWaiting(sessionId);
  }

  start(): void {
    this.ctx.prompts.sweep();
    this.pool?.start();
  }

  models = listModels;
  resolveModel = resolveModel;

  reserveSession(prepared: PreparedRequest, cwd: string): string | undefined {
    if (this.pool && !this.pool.verified && !prepared.clientTools.length && !prepared.jsonSchema) {
      this.pool.start(); // keep trying to warm up; meanwhile this completion runs one-shot
      return undefined;
    }
    return this.pool?.reserve(profileOf({ ...prepared, cwd }));
  }

  releaseSession(sessionId: string): void {
    this.pool?.release(sessionId);
  }

  stats() {
    return this.pool?.stats();
  }

  /** The CLI renders its own prompt and enforces its own tool policy: both are checked here, up front. */
  prepare(request: ChatRequest): PreparedRequest {
    return prepareRequest(request, this.opts.allowedTools, this.schemas);
  }

  async *run(prepared: PreparedRequest, session: RunSession, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const started = performance.now();
    const req = placeRequest(prepared, session);
    const pool = this.pooled(req);
    const events = pool ? this.runLive(pool, req, signal) : runOneShot(this.ctx, req, signal);
    if (!pool) this.opts.onSpawn?.('one_shot');
    for await (const ev of events) {
      yield ev.type === 'result' ? { ...ev, result: { ...ev.result, cliMs: performance.now() - started } } : ev;
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
    // Also the files of processes whose exit has not been handled yet, or still starting.
    await this.ctx.prompts.removeAll();
    this.ctx.groups.close();
  }

  /** CLI process groups alive (tests check that none is left behind). */
  get liveProcessGroups(): number {
    return this.ctx.groups.size;
  }

  /** A turn on a pooled process; one that died before anything reached the client is retried once. */
  private async *runLive(pool: ProcessPool, req: CliRequest, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    for (let attempt = 0; ; attempt++) {
      const entry = await pool.checkout(req);
      let yielded = false;
      try {
        // Results for the run waiting in this process; if it is gone, the prompt carries them instead.
        const input = req.toolResults && entry.proc.waitingFor.length ? { toolResults: req.toolResults } : { prompt: req.prompt, images: req.images };
        for await (const ev of entry.proc.turn(input, signal)) {
          yielded = true;
          yield ev;
        }
        return;
      } catch (err) {
        const retry =
          attempt === 0 && !yielded && !signal.aborted && !entry.proc.isAlive && err instanceof ProviderError && PROCESS_DIED.has(err.kind);
        if (!retry) throw err;
      } finally {
        pool.checkin(entry);
      }
    }
  }

  private async spawnLive(profile: SpawnProfile, session: { id: string; resume: boolean }): Promise<LiveCliProcess> {
    const files = await writeSpawnFiles(this.ctx.prompts, profile);
    const spawnedAt = performance.now();
    let proc: LiveCliProcess;
    try {
      proc = new LiveCliProcess({
        bin: this.ctx.bin,
        args: liveArgs(profile, session, files),
        cwd: profile.cwd,
        env: runEnv(this.ctx.env, profile.toolPolicy.tools, this.opts.toolSandbox),
        sessionId: session.id,
        killGraceMs: this.ctx.killGraceMs,
        groups: this.ctx.groups,
        clientTools: profile.clientTools.length ? { tools: profile.clientTools, parallel: profile.parallelToolCalls } : undefined,
        jsonSchema: profile.jsonSchema,
      });
    } catch (err) {
      await this.ctx.prompts.remove(files.systemPrompt, files.settings);
      throw err;
    }
    void proc.exited.then(() => this.ctx.prompts.remove(files.systemPrompt, files.settings));
    const { onSpawn } = this.opts;
    if (onSpawn) void proc.initialized.then((ok) => onSpawn('pooled', ok ? (performance.now() - spawnedAt) / 1000 : undefined));
    return proc;
  }

  async hasSession(sessionId: string): Promise<boolean> {
    for (const dir of await this.projectDirs()) {
      const ok = await access(path.join(dir, `${sessionId}.jsonl`)).then(
        () => true,
        () => false,
      );
      if (ok) return true;
    }
    return false;
  }

  /** The hot process first, so that nothing writes the transcript again once it is gone. */
  async deleteSession(sessionId: string): Promise<void> {
    await this.pool?.closeSession(sessionId);
    try {
      for (const dir of await this.projectDirs()) {
        // The transcript, and the folder the CLI may keep beside it (large tool results, subagents).
        await rm(path.join(dir, `${sessionId}.jsonl`), { force: true });
        await rm(path.join(dir, sessionId), { recursive: true, force: true });
      }
    } catch (err) {
      throw new ProviderError('storage', `could not remove the transcript of session ${sessionId}`, { cause: err });
    }
  }

  /** The CLI's per-project folders (CLAUDE_CONFIG_DIR/projects/<project>), where it keeps transcripts. */
  private async projectDirs(): Promise<string[]> {
    const projects = path.join(this.opts.claudeConfigDir, 'projects');
    const dirs = await readdir(projects).catch(() => [] as string[]);
    return dirs.map((d) => path.join(projects, d));
  }

  async check(): Promise<ProviderHealth> {
    const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
    const proc = this.ctx.groups.spawnCli({
      bin: this.opts.bin,
      args: ['--version'],
      cwd: process.cwd(),
      env: this.ctx.env,
      stdin: '',
      signal,
      killGraceMs: 0,
    });
    let stdout = '';
    for await (const line of proc.lines) stdout += `${line}\n`;
    const exit = await proc.exit;
    if (exit.spawnError) return { ok: false, error: spawnFailure(this.opts.bin, exit.spawnError) };
    const version = stdout.trim();
    if (exit.exitCode !== 0 || !version) {
      const how = signal.aborted ? 'timed out' : `exited with code ${exit.exitCode ?? exit.signal}`;
      const reason = `claude --version ${how}: ${excerpt(exit.stderr || stdout) || 'no output'}`;
      return { ok: false, error: new ProviderError('unavailable', reason, { code: 'claude_unusable' }) };
    }
    const missing = missingCredentials(this.ctx.env, this.opts.claudeConfigDir);
    return { ok: true, version, ...(missing ? { warnings: [missing] } : {}) };
  }
}
