import { type ImageBlock, imageBlock } from '../images.js';
import { type Message, ProviderError } from '../types.js';

/** The result of a client function call, for the run that waits for it. */
export interface ToolResult {
  toolCallId: string;
  content: string;
}

export interface Conversation {
  systemPrompt?: string;
  /** What goes to the CLI on stdin when no waiting run takes the tool results. */
  prompt: string;
  /** Results of the client's function calls, when the messages end with tool messages. */
  toolResults: ToolResult[];
  /** The images of the user messages rendered into the prompt, in order (`[image N]` marks each place). */
  images: ImageBlock[];
}

type Indexed = { m: Message; i: number };
type IndexedTool = { m: Extract<Message, { role: 'tool' }>; i: number };

const refused = (message: string, param: string, code: string) => new ProviderError('invalid_request', message, { param, code });

/**
 * Text of a message. A user message's images go with the prompt as image blocks, each marked in the
 * text where it stood; other messages reach the CLI as text only, so an image there is refused, named.
 */
function textOf(images: ImageBlock[]): (m: Message, i: number) => string {
  return (m, i) =>
    m.content
      .map((part, j) => {
        if (part.type === 'text') return part.text;
        if (m.role !== 'user') {
          throw refused(`images are only supported in user messages`, `messages[${i}].content[${j}].type`, 'unsupported_content_part');
        }
        images.push(imageBlock(part.url, `messages[${i}].content[${j}].image_url.url`));
        return `[image ${images.length}]`;
      })
      .join('\n');
}

/**
 * Splits the messages into the system prompt and what goes to the CLI on stdin.
 * - Continuing a session: only the messages after the last assistant message; the rest is in the
 *   session's transcript already, which the CLI keeps.
 * - A new session whose messages already hold assistant turns: the history, tool calls and results
 *   included, is rendered as a tagged transcript ahead of the new turn, so the model sees every
 *   earlier turn verbatim.
 * - Messages that end with tool results: those results, for the run that waits for them; the
 *   prompt is then the fallback for when no run waits any more.
 */
export function renderConversation(messages: Message[], continuing: boolean): Conversation {
  const images: ImageBlock[] = [];
  const text = textOf(images);
  const all = messages.map((m, i) => ({ m, i }));
  const system = all
    .filter(({ m }) => m.role === 'system')
    .map(({ m, i }) => text(m, i))
    .filter(Boolean);
  const turns = all.filter(({ m }) => m.role !== 'system');
  let lastAssistant = -1;
  turns.forEach(({ m }, k) => {
    if (m.role === 'assistant') lastAssistant = k;
  });
  const fresh = turns.slice(lastAssistant + 1);
  const history = continuing ? [] : turns.slice(0, lastAssistant + 1);
  const systemPrompt = system.length ? system.join('\n\n') : undefined;
  if (fresh.length === 0) throw refused('messages must end with a user message or with tool results', 'messages', 'missing_user_message');
  const tools = fresh.filter((t): t is IndexedTool => t.m.role === 'tool');
  if (tools.length) {
    if (tools.length !== fresh.length) {
      throw refused(
        'tool results must directly follow the assistant message whose tool_calls they answer, and end the messages',
        `messages[${tools[0]!.i}]`,
        'invalid_tool_results',
      );
    }
    const toolResults = tools.map(({ m, i }) => ({ toolCallId: m.toolCallId, content: text(m, i) }));
    const results = renderTurns(tools, text);
    const prompt = history.length
      ? `${renderHistory(history, text, 'The results of your tool calls follow; continue from there.')}\n\n${results}`
      : `The results of your tool calls:\n${results}\n\nContinue from there.`;
    return { systemPrompt, prompt, toolResults, images };
  }
  const newText = fresh.map(({ m, i }) => text(m, i)).join('\n\n');
  const prompt = history.length
    ? `${renderHistory(history, text, "The user's new message follows; answer it as the assistant of this conversation.")}\n\n${newText}`
    : newText;
  if (!prompt.trim()) throw refused('the new user message is empty', `messages[${fresh[fresh.length - 1]!.i}].content`, 'empty_message');
  return { systemPrompt, prompt, toolResults: [], images };
}

function renderTurns(turns: Indexed[], text: (m: Message, i: number) => string): string {
  return turns
    .map(({ m, i }) => {
      if (m.role === 'tool') return `<turn role="tool" tool_call_id="${m.toolCallId}">\n${text(m, i)}\n</turn>`;
      const calls =
        m.role === 'assistant' && m.toolCalls.length
          ? `\n${m.toolCalls.map((c) => `<tool_call id="${c.id}" name="${c.name}">${c.arguments}</tool_call>`).join('\n')}`
          : '';
      return `<turn role="${m.role}">\n${text(m, i)}${calls}\n</turn>`;
    })
    .join('\n');
}

function renderHistory(turns: Indexed[], text: (m: Message, i: number) => string, then: string): string {
  return (
    'The conversation so far, oldest turn first (earlier turns of this same conversation, given here because ' +
    `they happened elsewhere):\n<conversation_history>\n${renderTurns(turns, text)}\n</conversation_history>\n\n${then}\n`
  );
}
