import type { CliRequest, SpawnProfile } from './request.js';
import type { SystemPromptFiles } from './system-prompt.js';

/** The profile part of a request (or of a profile with more fields). */
export function profileOf(req: SpawnProfile): SpawnProfile {
  const { model, systemPrompt, toolPolicy, maxTurns, cwd, clientTools, parallelToolCalls, jsonSchema, maxBudgetUsd, effort } = req;
  return { model, systemPrompt, toolPolicy, maxTurns, cwd, clientTools, parallelToolCalls, jsonSchema, maxBudgetUsd, effort };
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
    p.maxBudgetUsd ?? null,
    p.effort ?? null,
  ]);
}

/** The in-process MCP server through which the client's functions reach the model. */
export const CLIENT_SERVER = 'client';
export const CLIENT_TOOL_PREFIX = `mcp__${CLIENT_SERVER}__`;

/** The private files a process starts with (paths), for what of its profile the CLI reads from files. */
export interface SpawnFiles {
  systemPrompt?: string;
  /** `--settings`: the permission rules, which would be `--allowedTools` / `--disallowedTools` on argv. */
  settings?: string;
}

/** Client functions are allowed without asking: their calls go to the client, which decides. */
function permissions(p: SpawnProfile): { allow: string[]; deny: string[] } | undefined {
  const allow = [...p.toolPolicy.allowed, ...(p.clientTools.length ? [`mcp__${CLIENT_SERVER}`] : [])];
  const deny = p.toolPolicy.disallowed;
  return allow.length || deny.length ? { allow, deny } : undefined;
}

export async function writeSpawnFiles(files: SystemPromptFiles, p: SpawnProfile): Promise<SpawnFiles> {
  const rules = permissions(p);
  return {
    systemPrompt: await files.write(p.systemPrompt),
    settings: await files.write(rules && JSON.stringify({ permissions: rules }), 'settings'),
  };
}

/**
 * Flags for the profile and the session. Nothing a request carries goes on argv beyond the model,
 * the session id, the names of enabled built-in tools, max turns, max budget and effort: the system prompt and the
 * permission rules go through private files, the structured-output schema through the initialize
 * request (live-process.ts), the prompt on stdin. Values use the `--flag=value` form so that nothing
 * can read as another flag.
 */
function commonArgs(p: SpawnProfile, session: { id: string; resume: boolean }, files: SpawnFiles): string[] {
  const args = [`--model=${p.model}`, session.resume ? `--resume=${session.id}` : `--session-id=${session.id}`];
  if (files.systemPrompt) args.push(`--system-prompt-file=${files.systemPrompt}`);
  if (files.settings) args.push(`--settings=${files.settings}`);
  // Always explicit: with no tools requested the CLI runs with none, whatever its settings say.
  args.push(`--tools=${p.toolPolicy.tools.join(',')}`);
  if (p.maxTurns !== undefined) args.push(`--max-turns=${p.maxTurns}`);
  if (p.maxBudgetUsd !== undefined) args.push(`--max-budget-usd=${p.maxBudgetUsd}`);
  if (p.effort !== undefined) args.push(`--effort=${p.effort}`);
  return args;
}

/** Client functions: an "sdk" MCP server answered over stdio. */
function clientToolArgs(p: SpawnProfile): string[] {
  if (!p.clientTools.length) return [];
  return [`--mcp-config=${JSON.stringify({ mcpServers: { [CLIENT_SERVER]: { type: 'sdk', name: CLIENT_SERVER } } })}`, '--strict-mcp-config'];
}

/** One run: `-p`, json (or stream-json) out, the prompt on stdin, then exit. */
export function oneShotArgs(req: CliRequest, files: SpawnFiles): string[] {
  const format = req.stream
    ? ['--output-format=stream-json', '--verbose', '--include-partial-messages']
    : ['--output-format=json'];
  return ['-p', ...format, ...commonArgs(req, { id: req.sessionId, resume: req.resume }, files)];
}

/** A long-lived process: stream-json in and out, one user message per turn, kept between turns. */
export function liveArgs(p: SpawnProfile, session: { id: string; resume: boolean }, files: SpawnFiles): string[] {
  return [
    '-p',
    '--input-format=stream-json',
    '--output-format=stream-json',
    '--verbose',
    '--include-partial-messages',
    ...commonArgs(p, session, files),
    ...clientToolArgs(p),
  ];
}
