import { InvalidRequestError } from '../errors.js';
import type { ToolPolicy } from '../../providers/types.js';
import type { ChatCompletionRequest, ChatMessage } from './schemas.js';

/** Claude Code's own tools: an OpenAI function tool with one of these names enables it. */
export const CLAUDE_CODE_TOOLS = [
  'Agent', 'Bash', 'Edit', 'Glob', 'Grep', 'MultiEdit', 'NotebookEdit', 'Read', 'Skill', 'Task',
  'TodoWrite', 'WebFetch', 'WebSearch', 'Write',
] as const;

/** Text of a message's content; any part other than text is a 400 naming it. */
export function contentText(msg: ChatMessage, index: number): string {
  const content = msg.content;
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      if (part.type !== 'text' || typeof part.text !== 'string') {
        throw new InvalidRequestError(
          `content part type '${part.type}' is not supported: only text parts are`,
          `messages[${index}].content[${j}].type`,
          'unsupported_content_part',
        );
      }
      return part.text;
    })
    .join('\n');
}

export interface PromptParts {
  systemPrompt?: string;
  prompt: string;
}

const indexed = (messages: ChatMessage[]) => messages.map((m, i) => ({ m, i }));

/**
 * Splits OpenAI messages into the system prompt and what goes to the CLI on stdin.
 * - Continuing a session: only the messages after the last assistant message; the rest is in the
 *   session already.
 * - A first turn whose messages already hold assistant turns: the history is rendered as a
 *   tagged transcript ahead of the new user turn, so the model sees every earlier turn verbatim.
 */
export function buildPrompt(messages: ChatMessage[], continuing: boolean): PromptParts {
  const all = indexed(messages);
  all.forEach(({ m, i }) => {
    if (m.role === 'tool') {
      throw new InvalidRequestError("messages with role 'tool' are not supported yet", `messages[${i}].role`, 'unsupported_role');
    }
  });
  const system = all
    .filter(({ m }) => m.role === 'system' || m.role === 'developer')
    .map(({ m, i }) => contentText(m, i))
    .filter(Boolean);
  const turns = all.filter(({ m }) => m.role === 'user' || m.role === 'assistant');
  let lastAssistant = -1;
  turns.forEach(({ m }, k) => {
    if (m.role === 'assistant') lastAssistant = k;
  });
  const fresh = turns.slice(lastAssistant + 1);
  if (fresh.length === 0) {
    throw new InvalidRequestError('messages must end with at least one user message', 'messages', 'missing_user_message');
  }
  const newText = fresh.map(({ m, i }) => contentText(m, i)).join('\n\n');
  const history = continuing ? [] : turns.slice(0, lastAssistant + 1);
  const prompt = history.length ? `${renderHistory(history)}\n\n${newText}` : newText;
  if (!prompt.trim()) {
    throw new InvalidRequestError('the new user message is empty', `messages[${fresh[fresh.length - 1]!.i}].content`, 'empty_message');
  }
  return { systemPrompt: system.length ? system.join('\n\n') : undefined, prompt };
}

function renderHistory(turns: { m: ChatMessage; i: number }[]): string {
  const body = turns.map(({ m, i }) => `<turn role="${m.role}">\n${contentText(m, i)}\n</turn>`).join('\n');
  return (
    'The conversation so far, oldest turn first (earlier turns of this same conversation, given here because ' +
    'they happened elsewhere):\n<conversation_history>\n' +
    `${body}\n</conversation_history>\n\nThe user's new message follows; answer it as the assistant of this conversation.\n`
  );
}

/**
 * The tools a request may use, within the server's cap: OpenAI function tools named after Claude
 * Code tools and `allowed_tools` rules enable (and pre-approve) their tool; `disallowed_tools`
 * only ever restricts; `tool_choice: "none"` means no tools at all.
 */
export function toolPolicy(req: ChatCompletionRequest, cap: readonly string[]): ToolPolicy {
  const policy: ToolPolicy = { tools: [], allowed: [], disallowed: [...(req.disallowed_tools ?? [])] };
  if (req.tool_choice === 'none') return policy;
  const enable = (name: string, rule: string, param: string) => {
    if (!cap.includes(name)) {
      throw new InvalidRequestError(
        `tool '${name}' is not allowed on this gateway (allowed: ${cap.length ? cap.join(', ') : 'none'}; see ALLOWED_TOOLS)`,
        param,
        'tool_not_allowed',
      );
    }
    if (!policy.tools.includes(name)) policy.tools.push(name);
    if (!policy.allowed.includes(rule)) policy.allowed.push(rule);
  };
  (req.tools ?? []).forEach((t, i) => {
    const name = t.function.name;
    if (!(CLAUDE_CODE_TOOLS as readonly string[]).includes(name)) {
      throw new InvalidRequestError(
        `custom function tools are not supported yet: '${name}' is not a Claude Code tool (${CLAUDE_CODE_TOOLS.join(', ')})`,
        `tools[${i}].function.name`,
        'unsupported_tool',
      );
    }
    enable(name, name, `tools[${i}].function.name`);
  });
  (req.allowed_tools ?? []).forEach((rule, i) => enable(rule.replace(/\(.*$/s, ''), rule, `allowed_tools[${i}]`));
  return policy;
}
