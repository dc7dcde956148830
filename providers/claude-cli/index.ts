import { randomUUID } from 'node:crypto';
import { access, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  BadCliOutputError,
  CliNotFoundError,
  GatewayError,
  NotFoundError,
  ServiceUnavailableError,
  excerpt,
} from '../../src/errors.js';
import type { Provider, ProviderEvent, ProviderHealth, ProviderRequest } from '../types.js';
import { buildArgs } from './args.js';
import { childEnv } from './env.js';
import { listModels, resolveModel } from './models.js';
import { CliOutput } from './output.js';
import { mapCliResult } from './result.js';
import { type CliExit, spawnCli } from './spawn.js';

export interface ClaudeCliOptions {
  bin: string;
  claudeConfigDir: string;
  envPassthrough: readonly string[];
  killGraceMs: number;
  /** A private directory for per-run files (system prompts). */
  tmpDir: string;
  /** The gateway's environment, filtered into the child's. */
  parentEnv?: NodeJS.ProcessEnv;
}

const NO_SESSION = /No conversation found with session ID/i;

/** Why a run that printed no usable result failed, from its exit status and raw output. */
function failure(bin: string, exit: CliExit, stdout: string, sessionId: string): GatewayError {
  if (exit.spawnError) {
    if (exit.spawnError === 'ENOENT') return new CliNotFoundError(bin);
    return new ServiceUnavailableError(`claude executable could not be started: ${bin} (${exit.spawnError})`, 'claude_unusable');
  }
  if (NO_SESSION.test(exit.stderr)) {
    return new NotFoundError(`session ${sessionId} does not exist`, 'session_id', 'session_not_found');
  }
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  const detail = stdout.trim()
    ? `stdout: ${excerpt(stdout)}`
    : exit.stderr.trim()
      ? `stderr: ${excerpt(exit.stderr)}`
      : 'no output';
  return new BadCliOutputError(`the Claude CLI ${how} without a usable result (${detail})`);
}

export class ClaudeCliProvider implements Provider {
  readonly name = 'claude-cli';
  private readonly env: Record<string, string>;

  constructor(private readonly opts: ClaudeCliOptions) {
    this.env = childEnv(opts.parentEnv ?? process.env, {
      claudeConfigDir: opts.claudeConfigDir,
      passthrough: opts.envPassthrough,
    });
  }

  models = listModels;
  resolveModel = resolveModel;

  async *run(req: ProviderRequest, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    // Our own controller too: a consumer that stops iterating early must not leave the CLI running.
    const local = new AbortController();
    const relay = () => local.abort(signal.reason);
    if (signal.aborted) relay();
    else signal.addEventListener('abort', relay, { once: true });
    const systemFile = req.systemPrompt ? await this.writeSystemPrompt(req.systemPrompt) : undefined;
    const proc = spawnCli({
      bin: this.opts.bin,
      args: buildArgs(req, systemFile),
      cwd: req.cwd,
      env: this.env,
      stdin: req.prompt,
      signal: local.signal,
      killGraceMs: this.opts.killGraceMs,
    });
    const out = new CliOutput(req.stream);
    let answered = false;
    try {
      for await (const line of proc.lines) {
        for (const ev of out.push(line)) yield ev;
        // The result line ends the answer: hand it on without waiting for the exit.
        if (out.result && !answered) {
          answered = true;
          yield { type: 'result', result: mapCliResult(out.result, out.excerpt()) };
        }
      }
      const exit = await proc.exit;
      if (signal.aborted) throw signal.reason;
      if (answered) return;
      const result = out.finish();
      if (!result) throw failure(this.opts.bin, exit, out.excerpt(), req.sessionId);
      yield { type: 'result', result: mapCliResult(result, out.excerpt()) };
    } finally {
      if (!out.result) local.abort(new Error('run abandoned'));
      signal.removeEventListener('abort', relay);
      // Returning only once the CLI is gone keeps a session's next turn off a transcript still being written.
      await proc.exit;
      if (systemFile) await rm(systemFile, { force: true });
    }
  }

  private async writeSystemPrompt(text: string): Promise<string> {
    await mkdir(this.opts.tmpDir, { recursive: true, mode: 0o700 });
    const file = path.join(this.opts.tmpDir, `system-${randomUUID()}.txt`);
    await writeFile(file, text, { mode: 0o600 });
    return file;
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
      env: this.env,
      stdin: '',
      signal: controller.signal,
      killGraceMs: 0,
    });
    let stdout = '';
    for await (const line of proc.lines) stdout += `${line}\n`;
    const exit = await proc.exit;
    clearTimeout(timer);
    if (exit.spawnError === 'ENOENT') return { ok: false, reason: new CliNotFoundError(this.opts.bin).message };
    if (exit.spawnError) return { ok: false, reason: `claude executable could not be started: ${exit.spawnError}` };
    const version = stdout.trim();
    if (exit.exitCode !== 0 || !version) {
      const how = controller.signal.aborted ? 'timed out' : `exited with code ${exit.exitCode ?? exit.signal}`;
      return { ok: false, reason: `claude --version ${how}: ${excerpt(exit.stderr || stdout) || 'no output'}` };
    }
    return { ok: true, version };
  }
}
