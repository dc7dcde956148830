import type { ProviderRequest, SessionSettings } from '../types.js';

/** What the CLI fixes at start: a long-lived process can only serve requests with the same profile. */
export type SpawnProfile = SessionSettings;

export function profileOf(req: ProviderRequest): SpawnProfile {
  return { model: req.model, systemPrompt: req.systemPrompt, toolPolicy: req.toolPolicy, maxTurns: req.maxTurns, cwd: req.cwd };
}

export function profileKey(p: SpawnProfile): string {
  return JSON.stringify([p.model, p.systemPrompt ?? null, p.toolPolicy, p.maxTurns ?? null, p.cwd]);
}

/**
 * Flags for the profile and the session. Values use the `--flag=value` form so that nothing a
 * request carries can read as another flag; the system prompt goes through a file (no argv length
 * limit, no NUL-byte spawn failure, nothing in `ps`); the prompt itself goes on stdin.
 */
function commonArgs(p: SpawnProfile, session: { id: string; resume: boolean }, systemPromptFile?: string): string[] {
  const args = [`--model=${p.model}`, session.resume ? `--resume=${session.id}` : `--session-id=${session.id}`];
  if (systemPromptFile) args.push(`--system-prompt-file=${systemPromptFile}`);
  // Always explicit: with no tools requested the CLI runs with none, whatever its settings say.
  args.push(`--tools=${p.toolPolicy.tools.join(',')}`);
  if (p.toolPolicy.allowed.length) args.push(`--allowedTools=${p.toolPolicy.allowed.join(',')}`);
  if (p.toolPolicy.disallowed.length) args.push(`--disallowedTools=${p.toolPolicy.disallowed.join(',')}`);
  if (p.maxTurns !== undefined) args.push(`--max-turns=${p.maxTurns}`);
  return args;
}

/** One run: `-p`, json (or stream-json) out, the prompt on stdin, then exit. */
export function oneShotArgs(req: ProviderRequest, systemPromptFile?: string): string[] {
  const format = req.stream
    ? ['--output-format=stream-json', '--verbose', '--include-partial-messages']
    : ['--output-format=json'];
  return ['-p', ...format, ...commonArgs(req, { id: req.sessionId, resume: req.resume }, systemPromptFile)];
}

/** A long-lived process: stream-json in and out, one user message per turn, kept between turns. */
export function liveArgs(p: SpawnProfile, session: { id: string; resume: boolean }, systemPromptFile?: string): string[] {
  return [
    '-p',
    '--input-format=stream-json',
    '--output-format=stream-json',
    '--verbose',
    '--include-partial-messages',
    ...commonArgs(p, session, systemPromptFile),
  ];
}
