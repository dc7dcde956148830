import {
  BadCliOutputError,
  CliNotFoundError,
  type GatewayError,
  NotFoundError,
  ServiceUnavailableError,
  excerpt,
} from '../../src/errors.js';
import type { CliExit } from './spawn.js';

const NO_SESSION = /No conversation found with session ID/i;
const NO_SANDBOX = /bubblewrap is required|sandbox\.bwrapPath/i;

/** Why a run that printed no usable result failed, from its exit status and raw output. */
export function cliFailure(bin: string, exit: CliExit, stdout: string, sessionId: string): GatewayError {
  if (exit.spawnError) {
    if (exit.spawnError === 'ENOENT') return new CliNotFoundError(bin);
    return new ServiceUnavailableError(`claude executable could not be started: ${bin} (${exit.spawnError})`, 'claude_unusable');
  }
  if (NO_SESSION.test(exit.stderr)) {
    return new NotFoundError(`session ${sessionId} does not exist`, 'session_id', 'session_not_found');
  }
  if (NO_SANDBOX.test(exit.stderr)) {
    return new ServiceUnavailableError(
      "Claude Code tools run in the CLI's sandbox (TOOL_SANDBOX=1), which needs bubblewrap (bwrap) and socat on the " +
        `gateway's host; TOOL_SANDBOX=0 runs them without it, the upstream credential readable to them (${excerpt(exit.stderr)})`,
      'tool_sandbox_unavailable',
    );
  }
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
  const detail = stdout.trim()
    ? `stdout: ${excerpt(stdout)}`
    : exit.stderr.trim()
      ? `stderr: ${excerpt(exit.stderr)}`
      : 'no output';
  return new BadCliOutputError(`the Claude CLI ${how} without a usable result (${detail})`);
}
