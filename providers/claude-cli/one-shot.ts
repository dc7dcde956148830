import type { ProviderEvent } from '../types.js';
import { type SpawnFiles, oneShotArgs, writeSpawnFiles } from './args.js';
import { runEnv } from './env.js';
import { cliFailure } from './failure.js';
import { CliOutput } from './output.js';
import type { CliRequest } from './request.js';
import { mapCliResult } from './result.js';
import type { ProcessGroups } from './spawn.js';
import type { SystemPromptFiles } from './system-prompt.js';

export interface OneShotContext {
  bin: string;
  env: Record<string, string>;
  toolSandbox: boolean;
  killGraceMs: number;
  prompts: SystemPromptFiles;
  groups: ProcessGroups;
}

/** One `claude -p` run per completion: spawn, prompt on stdin, parse, exit. */
export async function* runOneShot(ctx: OneShotContext, req: CliRequest, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
  const files = await writeSpawnFiles(ctx.prompts, req);
  // Removed on every way out: answered, failed, cancelled, or the CLI not even started.
  try {
    yield* run(ctx, req, signal, files);
  } finally {
    await ctx.prompts.remove(files.systemPrompt, files.settings);
  }
}

async function* run(ctx: OneShotContext, req: CliRequest, signal: AbortSignal, files: SpawnFiles): AsyncGenerator<ProviderEvent> {
  // Our own controller too: a consumer that stops iterating early must not leave the CLI running.
  const local = new AbortController();
  const proc = ctx.groups.spawnCli({
    bin: ctx.bin,
    args: oneShotArgs(req, files),
    cwd: req.cwd,
    env: runEnv(ctx.env, req.toolPolicy.tools, ctx.toolSandbox),
    stdin: req.prompt,
    signal: AbortSignal.any([signal, local.signal]),
    killGraceMs: ctx.killGraceMs,
  });
  const out = new CliOutput(req.stream);
  let answered = false;
  try {
    for await (const line of proc.lines) {
      for (const ev of out.push(line)) yield ev;
      // The result line ends the answer: hand it on without waiting for the exit.
      if (out.result && !answered) {
        answered = true;
        yield { type: 'result', result: mapCliResult(out.result, out, Boolean(req.jsonSchema)) };
      }
    }
    const exit = await proc.exit;
    if (signal.aborted) throw signal.reason;
    if (answered) return;
    const result = out.finish();
    if (!result) throw cliFailure(ctx.bin, exit, out.excerpt(), req.sessionId);
    yield { type: 'result', result: mapCliResult(result, out, Boolean(req.jsonSchema)) };
  } finally {
    if (!out.result) local.abort(new Error('run abandoned'));
    // Returning only once the CLI is gone keeps a session's next turn off a transcript still being written.
    await proc.exit;
  }
}
