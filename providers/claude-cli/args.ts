import type { ProviderRequest, SessionSettings } from '../types.js';

/** What the CLI fixes at start: a long-lived process can only serve requests with the same profile. */
export type SpawnProfile = SessionSettings;

export function profileOf(req: ProviderRequest): SpawnProfile {
  const { model, systemPrompt, toolPolicy, maxTurns, cwd, clientTools, parallelToolCalls, jsonSchema } = req;
  return { model, systemPrompt, toolPolicy, maxTurns, cwd, clientTools, parallelToolCalls, jsonSchema };
}

export function profileKey(p: SpawnProfile): string {
  return JSON.stringify([
    p.model,
    p.systemPrompt ?? null,
    p.toolPolicy,
    p.maxTurns ?? null,
    p.cwd,
    p.clientTools,
    p.clientTools.length ? p.parallelToolCalls : null,
    p.jsonSchema ?? null,
  ]);
}

/** The in-process MCP server through which the client's functions reach the model. */
export const CLIENT_SERVER = 'client';
export const CLIENT_TOOL_PREFIX = `mcp__${CLIENT_SERVER}__`;

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
  if (p.toolPolicy.allowed.length && !p.clientTools.length) args.push(`--allowedTools=${p.toolPolicy.allowed.join(',')}`);
  if (p.toolPolicy.disallowed.length) args.push(`--disallowedTools=${p.toolPolicy.disallowed.join(',')}`);
  if (p.maxTurns !== undefined) args.push(`--max-turns=${p.maxTurns}`);
  if (p.jsonSchema) args.push(`--json-schema=${JSON.stringify(p.jsonSchema)}`);
  return args;
}

/** Client functions: an "sdk" MCP server answered over stdio, its tools allowed without asking. */
function clientToolArgs(p: SpawnProfile): string[] {
  if (!p.clientTools.length) return [];
  return [
    `--mcp-config=${JSON.stringify({ mcpServers: { [CLIENT_SERVER]: { type: 'sdk', name: CLIENT_SERVER } } })}`,
    '--strict-mcp-config',
    `--allowedTools=${[...p.toolPolicy.allowed, `mcp__${CLIENT_SERVER}`].join(',')}`,
  ];
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
    ...clientToolArgs(p),
  ];
}
