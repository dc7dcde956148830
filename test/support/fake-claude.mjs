#!/usr/bin/env node
// Fake `claude` executable for faults the real CLI can't show. Picks a behaviour by a keyword in the
// prompt (stdin): FAKE_CRASH, FAKE_GARBAGE, FAKE_HANG, FAKE_EXIT143, FAKE_SLOW_STREAM, FAKE_ENV; else default.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
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
if (format === 'stream-json' && !argv.includes('--verbose')) {
  process.stderr.write('Error: When using --print, --output-format=stream-json requires --verbose\n');
  process.exit(1);
}
const sessionId = flag('--session-id') ?? flag('--resume') ?? randomUUID();
const aliases = { opus: 'claude-opus-5-5', sonnet: 'claude-sonnet-5-5', haiku: 'claude-haiku-5-5' };
const model = aliases[flag('--model') ?? 'opus'] ?? flag('--model');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const line = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const msgId = `msg_fake_${process.pid}`;
const ev = (event) => line({ type: 'stream_event', event, session_id: sessionId, parent_tool_use_id: null, uuid: randomUUID() });
const delta = (text) => ev({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
const init = () =>
  line({
    type: 'system', subtype: 'init', session_id: sessionId, cwd: process.cwd(), model, permissionMode: 'default',
    tools: [], mcp_servers: [], apiKeySource: 'ANTHROPIC_API_KEY', claude_code_version: '2.1.331', uuid: randomUUID(),
  });
const usage = { input_tokens: 3, output_tokens: 2, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
const result = (text, started) => ({
  type: 'result', subtype: 'success', is_error: false, api_error_status: null, result: text, session_id: sessionId,
  num_turns: 1, stop_reason: 'end_turn', terminal_reason: 'completed', duration_ms: Date.now() - started,
  duration_api_ms: 1, total_cost_usd: 0.00009, usage, modelUsage: { [model]: { inputTokens: 3, outputTokens: 2, costUSD: 0.00009 } },
  permission_denials: [], uuid: randomUUID(),
});

async function answer(deltas, delayMs) {
  const started = Date.now();
  const text = deltas.join('');
  if (format === 'stream-json') {
    init();
    ev({ type: 'message_start', message: { id: msgId, type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } } });
    ev({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    for (let i = 0; i < deltas.length; i++) {
      if (i > 0 && delayMs) await sleep(delayMs);
      delta(deltas[i]);
    }
    // like the real CLI: the block's complete `assistant` event comes before its content_block_stop
    line({
      type: 'assistant', message: { id: msgId, type: 'message', role: 'assistant', model, content: [{ type: 'text', text }], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } },
      parent_tool_use_id: null, session_id: sessionId, uuid: randomUUID(),
    });
    ev({ type: 'content_block_stop', index: 0 });
    ev({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } });
    ev({ type: 'message_stop' });
    line(result(text, started));
  } else {
    if (delayMs) await sleep(delayMs * (deltas.length - 1));
    if (format === 'json') line(result(text, started));
    else process.stdout.write(text + '\n');
  }
}

let prompt = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) prompt += chunk;
const has = (kw) => prompt.includes(kw);

if (has('FAKE_CRASH')) {
  if (format === 'stream-json') {
    init();
    delta('partial ');
    delta('answer');
  } else process.stderr.write('segfault-ish crash\n');
  process.exitCode = 1;
} else if (has('FAKE_GARBAGE')) {
  process.stdout.write('this is not json <html>oops</html>\n');
} else if (has('FAKE_HANG')) {
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
} else if (has('FAKE_EXIT143')) {
  process.exit(143);
} else if (has('FAKE_SLOW_STREAM')) {
  await answer(Array.from({ length: 10 }, (_, i) => `tok${i} `), 100);
} else if (has('FAKE_ENV')) {
  await answer([JSON.stringify(process.env)], 0);
} else {
  await answer(['fake ', 'answer'], 0);
}
