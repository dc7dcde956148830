import { type ChatRequest, type FunctionTool, ProviderError } from '../types.js';

/** Claude Code's own tools: a function tool with one of these names enables it. */
export const CLAUDE_CODE_TOOLS = [
  'Agent', 'Bash', 'Edit', 'Glob', 'Grep', 'MultiEdit', 'NotebookEdit', 'Read', 'Skill', 'Task',
  'TodoWrite', 'WebFetch', 'WebSearch', 'Write',
] as const;

/** Whether a function tool asks for the Claude Code tool of its name (not a function the client runs itself). */
export const enablesBuiltIn = (tool: FunctionTool): boolean => !tool.clientOnly && (CLAUDE_CODE_TOOLS as readonly string[]).includes(tool.name);

/** The Anthropic API's rule for tool names: the client's functions become tools of the model. */
export const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The Claude Code tools a run may use, and the permission rules it starts with. */
export interface ToolPolicy {
  /** Claude Code tools the run may use at all (`--tools`); empty means none. */
  tools: string[];
  /** Permission rules granted without asking, e.g. `Bash(git *)`. */
  allowed: string[];
  /** Permission rules always refused. */
  disallowed: string[];
}

export interface ToolSetup {
  toolPolicy: ToolPolicy;
  /** The client's functions the model sees: their calls come back as `toolCalls`. */
  clientTools: FunctionTool[];
  /** What the tool choice asks of the model beyond what flags can enforce, for the system prompt. */
  instruction?: string;
}

// Params name the fields of the gateway's public (OpenAI) request, the one the 400 answers.
const refused = (message: string, param: string, code: string) => new ProviderError('invalid_request', message, { param, code });

/**
 * The tools a request may use. Function tools named after Claude Code tools, and allowed permission
 * rules, enable (and pre-approve) their tool within `cap` (ALLOWED_TOOLS); denied rules only ever
 * restrict. Other functions are the client's own: exposed to the model, their calls come back as
 * tool calls. Tool choice `none` means no tools at all; a named function exposes only that one.
 */
export function toolSetup(request: ChatRequest, cap: readonly string[]): ToolSetup {
  const policy: ToolPolicy = { tools: [], allowed: [], disallowed: [...request.permissions.deny] };
  const clientTools: FunctionTool[] = [];
  const enable = (name: string, rule: string, param: string) => {
    if (!cap.includes(name)) {
      throw refused(`tool '${name}' is not allowed on this gateway (allowed: ${cap.length ? cap.join(', ') : 'none'}; see ALLOWED_TOOLS)`, param, 'tool_not_allowed');
    }
    if (!policy.tools.includes(name)) policy.tools.push(name);
    if (!policy.allowed.includes(rule)) policy.allowed.push(rule);
  };
  const choice = request.toolChoice;
  const named = typeof choice === 'object' ? choice.name : undefined;
  request.tools.forEach((tool, i) => {
    const param = `tools[${i}].function.name`;
    if (enablesBuiltIn(tool)) {
      enable(tool.name, tool.name, param);
      return;
    }
    if (!FUNCTION_NAME.test(tool.name)) throw refused('function names must match ^[a-zA-Z0-9_-]{1,64}$', param, 'invalid_function_name');
    if (clientTools.some((c) => c.name === tool.name)) throw refused(`function '${tool.name}' is defined twice`, param, 'duplicate_function');
    if (!named || named === tool.name) clientTools.push(tool);
  });
  if (named && !clientTools.some((c) => c.name === named)) {
    throw refused(`tool_choice names '${named}', which is not among the tools`, 'tool_choice', 'unknown_function');
  }
  // A rule's tool is its name, before any `(specifier)`.
  request.permissions.allow.forEach((rule, i) => enable(rule.replace(/\(.*$/s, ''), rule, `allowed_tools[${i}]`));
  // Checked all the same, so that a request is valid or not whatever its tool choice.
  if (choice === 'none') return { toolPolicy: { tools: [], allowed: [], disallowed: policy.disallowed }, clientTools: [] };
  const instruction = named
    ? `You must call the function ${named} now.`
    : choice === 'required' && clientTools.length
      ? 'You must call at least one of the available functions before you answer.'
      : undefined;
  return { toolPolicy: policy, clientTools, instruction };
}
