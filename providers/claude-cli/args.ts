import type { ProviderRequest } from '../types.js';

/**
 * The CLI's argument array for one one-shot run. Values use the `--flag=value` form so that
 * nothing a request carries (a system prompt starting with "-", say) can read as another flag.
 * The prompt itself is never an argument: it goes on stdin.
 */
export function buildArgs(req: ProviderRequest, systemPromptFile?: string): string[] {
  const args = ['-p'];
  if (req.stream) {
    args.push('--output-format=stream-json', '--verbose', '--include-partial-messages');
  } else {
    args.push('--output-format=json');
  }
  args.push(`--model=${req.model}`);
  args.push(req.resume ? `--resume=${req.sessionId}` : `--session-id=${req.sessionId}`);
  // Through a file: no argv length limit, no NUL-byte spawn failure, nothing in `ps`.
  if (systemPromptFile) args.push(`--system-prompt-file=${systemPromptFile}`);
  // Always explicit: with no tools requested the CLI runs with none, whatever its settings say.
  args.push(`--tools=${req.toolPolicy.tools.join(',')}`);
  if (req.toolPolicy.allowed.length) args.push(`--allowedTools=${req.toolPolicy.allowed.join(',')}`);
  if (req.toolPolicy.disallowed.length) args.push(`--disallowedTools=${req.toolPolicy.disallowed.join(',')}`);
  if (req.maxTurns !== undefined) args.push(`--max-turns=${req.maxTurns}`);
  return args;
}
