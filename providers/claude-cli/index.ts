import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { BadCliOutputError, CliNotFoundError, excerpt } from '../../src/errors.js';
import type { Provider, ProviderEvent, ProviderHealth, ProviderRequest, SessionSettings, WaitingRunLoss } from '../types.js';
import { type SpawnProfile, liveArgs, writeSpawnFiles } from './args.js';
import { childEnv, runEnv } from './env.js';
import { LiveCliProcess } from './live-process.js';
import { listModels, resolveModel } from './models.js';
import { type OneShotContext, runOneShot } from './one-shot.js';
import { type PoolOptions, ProcessPool } from './pool.js';
import { spawnCli } from './spawn.js';
import { StructuredOutputSchemas } from './structured-output.js';
import { SystemPromptFiles } from './system-prompt.js';

export interface ClaudeCliOptions {
  bin: string;
  claudeConfigDir: string;
  envPassthrough: readonly string[];
  /** Claude Code tools' subprocesses run in the CLI's sandbox, without its credentials (env.ts). */
  toolSandbox: boolean;
  killGraceMs: number;
  /** A private directory for per-run files (system prompts). */
  tmpDir: string;
  /** The gateway's environment, filtered into the child's. */
  parentEnv?: NodeJS.ProcessEnv;
  /** Long-lived processes (warm pool, hot sessions); without it every run is a one-shot `claude -p`. */
  pool?: Omit<PoolOptions, 'spawn' | 'onError' | 'onRunLost'>;
  onError?(err: unknown): void;
}

export class ClaudeCliProvider implements Provider {
  readonly name = 'claude-cli';
  private readonly ctx: OneShotContext;
  private readonly pool: ProcessPool | undefined;
  private readonly schemas = new StructuredOutputSchemas();
  private readonly lostRunListeners: ((sessionId: string, why: WaitingRunLoss) => void)[] = [];

  constructor(private readonly opts: ClaudeCliOptions) {
    const env = childEnv(opts.parentEnv ?? process.env, {
      claudeConfigDir: opts.claudeConfigDir,
      passthrough: opts.envPassthrough,
    });
    this.ctx = { bin: opts.bin, env, toolSandbox: opts.toolSandbox, killGraceMs: opts.killGraceMs, prompts: new SystemPromptFiles(opts.tmpDir) };
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
  }

  /**
   * Pooled (long-lived) unless the pool is off and nothing needs a process that stays, or its control
   * protocol: client functions and the structured-output schema (which, sent in the initialize
   * request, stays out of argv) do.
   */
  private pooled(req: ProviderRequest): ProcessPool | undefined {
    if (!this.pool) return undefined;
    const needsLive = req.clientTools.length || req.toolResults || req.jsonSchema;
    return (this.opts.pool!.size > 0 && this.pool.verified) || needsLive ? this.pool : undefined;
  }

  onWaitingRunLost(listener: (sessionId: string, why: WaitingRunLoss) => void): void {
    this.lostRunListeners.push(listener);
  }

  findWaitingRun(toolCallIds: string[]): string | undefined {
    return this.pool?.findWaiting(toolCallIds);
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

  reserveSession(settings: SessionSettings): string | undefined {
    if (this.pool && !this.pool.verified && !settings.clientTools.length && !settings.jsonSchema) {
      this.pool.start(); // keep trying to warm up; meanwhile this completion runs one-shot
      return undefined;
    }
    return this.pool?.reserve(settings);
  }

  releaseSession(sessionId: string): void {
    this.pool?.release(sessionId);
  }

  prepareJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
    return this.schemas.prepare(schema);
  }

  stats() {
    return this.pool?.stats();
  }

  async *run(req: ProviderRequest, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const started = performance.now();
    const pool = this.pooled(req);
    const events = pool ? this.runLive(pool, req, signal) : runOneShot(this.ctx, req, signal);
    for await (const ev of events) {
      yield ev.type === 'result' ? { ...ev, result: { ...ev.result, cliMs: performance.now() - started } } : ev;
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
    // Also the files of processes whose exit has not been handled yet, or still starting.
    await this.ctx.prompts.removeAll();
  }

  /** A turn on a pooled process; one that died before anything reached the client is retried once. */
  private async *runLive(pool: ProcessPool, req: ProviderRequest, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    for (let attempt = 0; ; attempt++) {
      const entry = await pool.checkout(req);
      let yielded = false;
      try {
        // Results for the run waiting in this process; if it is gone, the prompt carries them instead.
        const input = req.toolResults && entry.proc.waitingFor.length ? { toolResults: req.toolResults } : { prompt: req.prompt };
        for await (const ev of entry.proc.turn(input, signal)) {
          yielded = true;
          yield ev;
        }
        return;
      } catch (err) {
        const retry = attempt === 0 && !yielded && !signal.aborted && !entry.proc.isAlive && err instanceof BadCliOutputError;
        if (!retry) throw err;
      } finally {
        pool.checkin(entry);
      }
    }
  }

  private async spawnLive(profile: SpawnProfile, session: { id: string; resume: boolean }): Promise<LiveCliProcess> {
    const files = await writeSpawnFiles(this.ctx.prompts, profile);
    let proc: LiveCliProcess;
    try {
      proc = new LiveCliProcess({
        bin: this.ctx.bin,
        args: liveArgs(profile, session, files),
        cwd: profile.cwd,
        env: runEnv(this.ctx.env, profile.toolPolicy.tools, this.opts.toolSandbox),
        sessionId: session.id,
        killGraceMs: this.ctx.killGraceMs,
        clientTools: profile.clientTools.length ? { tools: profile.clientTools, parallel: profile.parallelToolCalls } : undefined,
        jsonSchema: profile.jsonSchema,
      });
    } catch (err) {
      await this.ctx.prompts.remove(files.systemPrompt, files.settings);
      throw err;
    }
    void proc.exited.then(() => this.ctx.prompts.remove(files.systemPrompt, files.settings));
    return proc;
  }

  async hasSession(sessionId: string): Promise<boolean> {
    const projects = path.join(this.opts.claudeConfigDir, 'projects');
    const dirs = await readdir(projects).catch(() => [] as string[]);
    for (const dir of dirs) {
      const ok = await access(path.join(projects, dir, `${sessionId}.jsonl`)).then(
        () => true,
        () => false,
      );
      if (ok) return true;
    }
    return false;
  }

  async check(): Promise<ProviderHealth> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 15_000);
    const proc = spawnCli({
      bin: this.opts.bin,
      args: ['--version'],
      cwd: process.cwd(),
      env: this.ctx.env,
      stdin: '',
      signal: controller.signal,
      killGraceMs: 0,
    });
    let stdout = '';
    for await (const line of proc.lines) stdout += `${line}\n`;
    const exit = await proc.exit;
    clearTimeout(timer);
    if (exit.spawnError === 'ENOENT') return { ok: false, code: 'claude_not_found', reason: new CliNotFoundError(this.opts.bin).message };
    if (exit.spawnError) return { ok: false, code: 'claude_unusable', reason: `claude executable could not be started: ${exit.spawnError}` };
    const version = stdout.trim();
    if (exit.exitCode !== 0 || !version) {
      const how = controller.signal.aborted ? 'timed out' : `exited with code ${exit.exitCode ?? exit.signal}`;
      return { ok: false, code: 'claude_unusable', reason: `claude --version ${how}: ${excerpt(exit.stderr || stdout) || 'no output'}` };
    }
    return { ok: true, version };
  }
}
