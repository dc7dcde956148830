import { ProviderError } from '../types.js';
import type { CliExit } from './spawn.js';

const NO_SESSION = /No conversation found with session ID/i;
const NO_SANDBOX = /bubblewrap is required|sandbox\.bwrapPath/i;

/** Keeps excerpts of raw CLI output in error messages short and printable. */
export function excerpt(raw: string, max = 500): string {
  const flat = raw.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The executable could not be started at all: missing (ENOENT) or not runnable (EACCES, …). */
export function spawnFailure(bin: string, spawnError: string): ProviderError {
  if (spawnError === 'ENOENT') {
    return new ProviderError('unavailable', `claude executable not found: ${bin} (install @anthropic-ai/claude-code or set CLAUDE_BIN)`, {
      code: 'claude_not_found',
    });
  }
  return new ProviderError('unavailable', `claude executable could not be started: ${bin} (${spawnError})`, { code: 'claude_unusable' });
}

/** Why a run that printed no usable result failed, from its exit status and raw output. */
export function cliFailure(bin: string, exit: CliExit, stdout: string, sessionId: string): ProviderError {
  if (exit.spawnError) return spawnFailure(bin, exit.spawnError);
  if (NO_SESSION.test(exit.stderr)) {
    return new ProviderError('not_found', `session ${sessionId} does not exist`, { param: 'session_id', code: 'session_not_found' });
  }
  if (NO_SANDBOX.test(exit.stderr)) {
    return new ProviderError(
      'unavailable',
      "Claude Code tools run in the CLI's sandbox (TOOL_SANDBOX=1), which needs bubblewrap (bwrap) and socat on the " +
        `gateway's host; TOOL_SANDBOX=0 runs them without it, the upstream credential readable to them (${excerpt(exit.stderr)})`,
      { code: 'tool_sandbox_unavailable' },
    );
  }
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  const detail = stdout.trim()
    ? `stdout: ${excerpt(stdout)}`
    : exit.stderr.trim()
      ? `stderr: ${excerpt(exit.stderr)}`
      : 'no output';
  return new ProviderError('bad_output', `the Claude CLI ${how} without a usable result (${detail})`, { code: 'bad_cli_output' });
}
