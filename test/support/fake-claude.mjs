#!/usr/bin/env node
// Fake `claude` executable for faults the real CLI can't show. Picks a behaviour by a keyword in the
// prompt: FAKE_CRASH, FAKE_GARBAGE, FAKE_HANG, FAKE_EXIT143, FAKE_SLOW_STREAM, FAKE_ENV, FAKE_TURNS
// (result = turns answered by this process), FAKE_PID (result = pid), FAKE_OVERLOADED (an error result
// as the real CLI ends a turn whose API calls kept answering 529, each such turn counted as a line of
// $HOME/fake-claude-overloaded.count); else an instant "fake answer".
// One-shot `-p`: the prompt is all of stdin. Long-lived `--input-format stream-json`: one JSON message
// per stdin line (user messages, `/clear`, control_request interrupt), answered one turn at a time.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
// Both `--flag value` and `--flag=value`, like the real CLI.
const flag = (name) => {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
  }
  return undefined;
};
if (argv.includes('--version') || argv.includes('-v')) {
  process.stdout.write('2.1.331 (Claude Code)\n');
  process.exit(0);
}
const format = flag('--output-format') ?? 'text';
const live = flag('--input-format') === 'stream-json';
if (live && format !== 'stream-json') {
  process.stderr.write('Error: --input-format=stream-json requires output-format=stream-json.\n');
  process.exit(1);
}
if (format === 'stream-json' && !argv.includes('--verbose')) {
  process.stderr.write('Error: When using --print, --output-format=stream-json requires --verbose\n');
  process.exit(1);
}
let sessionId = flag('--session-id') ?? flag('--resume') ?? randomUUID();
const aliases = { opus: 'claude-opus-5-5', sonnet: 'claude-sonnet-5-5', haiku: 'claude-haiku-5-5' };
const model = aliases[flag('--model') ?? 'opus'] ?? flag('--model');

// Output is buffered and written once per turn (or before each pause), so the fast path is one write.
let out = '';
const line = (obj) => { out += JSON.stringify(obj) + '\n'; };
const flush = () => { if (out) { process.stdout.write(out); out = ''; } };
let wake = null; // resolves the current pause early (interrupt)
const sleep = (ms) => new Promise((r) => { wake = r; setTimeout(r, ms); });

let turns = 0; // turns answered by this process, including the running one
let lastError = false; // like the real CLI, the exit code after stdin EOF follows the last result
let interruptible = false, aborted = false; // state of the running turn
const msgId = () => `msg_fake_${process.pid}_${turns}`;
const ev = (event) => line({ type: 'stream_event', event, session_id: sessionId, parent_tool_use_id: null, uuid: randomUUID() });
const delta = (text) => ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
const init = () =>
  line({
    type: 'system', subtype: 'init', session_id: sessionId, cwd: process.cwd(), model, permissionMode: 'default',
    tools: hasSchema && !schemaRefused ? ['StructuredOutput'] : [], mcp_servers: [], apiKeySource: 'ANTHROPIC_API_KEY', claude_code_version: '2.1.331', uuid: randomUUID(),
  });
const assistant = (text) =>
  line({
    type: 'assistant', message: { id: msgId(), type: 'message', role: 'assistant', model, content: [{ type: 'text', text }], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } },
    parent_tool_use_id: null, session_id: sessionId, uuid: randomUUID(),
  });
const usage = { input_tokens: 3, output_tokens: 2, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
// Structured output, like the real CLI: with a schema (--json-schema, or `jsonSchema` in the initialize
// request) a turn has the StructuredOutput tool and the answer as an object. FAKE_SCHEMA_REFUSED in the
// prompt: as when the CLI refuses the schema it was given there (the tool left out, prose returned).
let hasSchema = flag('--json-schema') !== undefined;
let schemaRefused = false;
const structured = () => (hasSchema && !schemaRefused ? { structured_output: { answer: 'fake answer' } } : {});
// total_cost_usd adds up over the life of the process, as in the real CLI
const result = (text, started, extra) => ({
  type: 'result', subtype: 'success', is_error: false, api_error_status: null, result: text, session_id: sessionId, ...structured(),
  num_turns: 1, stop_reason: 'end_turn', terminal_reason: 'completed', duration_ms: Date.now() - started,
  duration_api_ms: 1, total_cost_usd: Math.round(turns * 9) / 1e5, usage, modelUsage: { [model]: { inputTokens: 3, outputTokens: 2, costUSD: 0.00009 } },
  permission_denials: [], uuid: randomUUID(), ...extra,
});

async function answer(deltas, delayMs) {
  const started = Date.now();
  let text = deltas.join('');
  if (format === 'stream-json') {
    init();
    ev({ type: 'message_start', message: { id: msgId(), type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } } });
    ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    let sent = 0;
    for (; sent < deltas.length; sent++) {
      if (sent > 0 && delayMs) {
        flush();
        await sleep(delayMs);
        if (aborted) break;
      }
      delta(deltas[sent]);
    }
    if (sent < deltas.length) {
      // interrupted: the partial block, a synthetic user message, then an error result (as the real CLI)
      assistant(deltas.slice(0, sent).join(''));
      line({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: '[Request interrupted by user]' }] }, parent_tool_use_id: null, session_id: sessionId, uuid: randomUUID() });
      line(result(null, started, { subtype: 'error_during_execution', is_error: true, stop_reason: null, terminal_reason: 'aborted_streaming' }));
      lastError = true;
      return flush();
    }
    // like the real CLI: the block's complete `assistant` event comes before its content_block_stop
    assistant(text);
    ev({ type: 'content_block_stop', index: 0 });
    ev({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } });
    ev({ type: 'message_stop' });
    line(result(text, started));
  } else {
    if (delayMs) await sleep(delayMs * (deltas.length - 1));
    if (format === 'json') line(result(text, started));
    else out += text + '\n';
  }
  lastError = false;
  flush();
}

// One turn, keyword-driven. Resolves when the turn is over (never, for FAKE_HANG).
async function respond(prompt) {
  const has = (kw) => prompt.includes(kw);
  turns++;
  interruptible = aborted = false;
  schemaRefused = has('FAKE_SCHEMA_REFUSED');
  if (has('FAKE_CRASH')) {
    if (format === 'stream-json') {
      init();
      delta('partial ');
      delta('answer');
      flush();
    } else process.stderr.write('segfault-ish crash\n');
    process.exit(1);
  }
  if (has('FAKE_GARBAGE')) {
    process.stdout.write('this is not json <html>oops</html>\n');
    process.exit(0);
  }
  if (has('FAKE_HANG')) {
    process.on('SIGTERM', () => {});
    const child = spawn('sleep', ['1000'], { detached: false, stdio: 'ignore' });
    const home = process.env.HOME;
    const files = [];
    if (home) files.push([join(home, 'fake-claude-grandchild.pid'), child.pid], [join(home, 'fake-claude.pid'), process.pid]);
    if (process.env.FAKE_CLAUDE_PIDFILE) files.push([process.env.FAKE_CLAUDE_PIDFILE, child.pid]);
    for (const [f, pid] of files) {
      try { writeFileSync(f, `${pid}\n`); } catch { /* best effort */ }
    }
    setInterval(() => {}, 1 << 30);
    return new Promise(() => {});
  }
  if (has('FAKE_EXIT143')) process.exit(143);
  if (has('FAKE_OVERLOADED')) {
    try { if (process.env.HOME) appendFileSync(join(process.env.HOME, 'fake-claude-overloaded.count'), `${process.pid}\n`); } catch { /* best effort */ }
    const text = 'API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment.';
    const failed = result(text, Date.now(), {
      is_error: true, api_error_status: 529, api_error_type: 'overloaded_error', terminal_reason: 'api_error', stop_reason: 'stop_sequence',
      total_cost_usd: 0, usage: { ...usage, input_tokens: 0, output_tokens: 0 }, modelUsage: {},
    });
    lastError = true;
    if (format === 'stream-json') {
      init();
      line(failed);
    } else if (format === 'json') line(failed);
    else {
      process.stderr.write(`${text}\n`);
      process.exit(1);
    }
    return flush();
  }
  if (has('FAKE_SLOW_STREAM')) {
    interruptible = true;
    return answer(Array.from({ length: 10 }, (_, i) => `tok${i} `), 100);
  }
  if (has('FAKE_ENV')) return answer([JSON.stringify(process.env)], 0);
  if (has('FAKE_TURNS')) return answer([String(turns)], 0);
  if (has('FAKE_PID')) return answer([String(process.pid)], 0);
  return answer(['fake ', 'answer'], 0);
}

if (!live) {
  let prompt = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) prompt += chunk;
  await respond(prompt);
} else {
  // Long-lived mode: nothing is printed until the first message. User messages queue up and run one at a
  // time; control requests are answered at once, even mid-turn.
  const queue = [];
  let busy = false, ended = false;
  const textOf = (c) => (typeof c === 'string' ? c : Array.isArray(c) ? c.map((b) => (b?.type === 'text' ? b.text : '')).join('\n') : '');
  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const text = textOf(queue.shift());
      if (text.trim() === '/clear') {
        // As the real CLI does: the reset names one id, the session that follows has another
        // (the /clear's own result carries it).
        line({ type: 'conversation_reset', new_conversation_id: randomUUID(), trigger: 'clear' });
        sessionId = randomUUID();
        line(result('', Date.now(), { num_turns: 0, stop_reason: null, usage: { ...usage, input_tokens: 0, output_tokens: 0 }, modelUsage: {} }));
        lastError = false;
        flush();
      } else await respond(text);
    }
    busy = false;
    if (ended) process.exit(lastError ? 1 : 0);
  };
  const onLine = (raw) => {
    if (!raw.trim()) return;
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      process.stderr.write(`Error parsing streaming input line (type=unknown, ${raw.length} chars): SyntaxError\n`);
      process.exit(1);
    }
    if (msg?.type === 'user') {
      queue.push(msg.message?.content);
      pump(); // starts the turn now if idle, so an interrupt on the next line finds it running
    } else if (msg?.type === 'control_request') {
      const request_id = msg.request_id;
      if (msg.request?.subtype === 'interrupt') {
        line({ type: 'control_response', response: { subtype: 'success', request_id, response: {} } });
        flush();
        if (busy && interruptible && !aborted) {
          aborted = true;
          wake?.();
        }
      } else if (msg.request?.subtype === 'initialize') {
        if (msg.request.jsonSchema) hasSchema = true;
        // The SDK's handshake, answered at once (the real CLI lists its commands, models, pid…).
        line({ type: 'control_response', response: { subtype: 'success', request_id, response: { commands: [], models: [], pid: process.pid } } });
        flush();
      } else {
        line({ type: 'control_response', response: { subtype: 'error', request_id, error: 'unsupported' } });
        flush();
      }
    } // `assistant` and other types are ignored
  };
  let rest = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const l of lines) onLine(l);
  });
  process.stdin.on('end', () => {
    onLine(rest);
    ended = true;
    pump();
  });
}
