// The CLI's stdout parser (providers/claude-cli/output.ts) and result mapping (result.ts), driven by
// recorded output of the real CLI 2.1.331 (fixtures/README.md says how it was recorded).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CliOutput } from '../../providers/claude-cli/output.js';
import { mapCliResult } from '../../providers/claude-cli/result.js';
import type { ProviderEvent } from '../../providers/types.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

type Json = Record<string, any>;

/** A fixture's stdout as the CLI's line reader yields it: one string per line, no newline. */
function lines(name: string): string[] {
  const text = readFileSync(path.join(FIXTURES, `${name}.jsonl`), 'utf8');
  return text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
}

const parsed = (name: string): Json[] => lines(name).map((l) => JSON.parse(l));
const resultLine = (name: string): Json => parsed(name).find((m) => m.type === 'result')!;
const isControl = (line: string) => line.startsWith('{"type":"control');

/** Feeds lines to a parser as a run does; control traffic goes elsewhere, as LiveCliProcess routes it. */
function replay(input: string[], streaming = true): { out: CliOutput; events: ProviderEvent[] } {
  const out = new CliOutput(streaming);
  const events: ProviderEvent[] = [];
  for (const line of input) if (!isControl(line)) events.push(...out.push(line));
  return { out, events };
}

const texts = (events: ProviderEvent[]) => events.flatMap((e) => (e.type === 'text' ? [e.text] : []));

/** The error a mapping throws: whatever its class, it carries the wire `code`. */
function thrown(fn: () => unknown): Json {
  try {
    fn();
  } catch (err) {
    return err as Json;
  }
  throw new Error('expected an error');
}

describe('a one-shot json run (--output-format json)', () => {
  it('takes the result from its single line as it arrives, before stdout ends, with no events', () => {
    const out = new CliOutput(false);
    expect(out.push(lines('json-success')[0]!)).toEqual([]);
    expect(out.result).toMatchObject({ type: 'result', subtype: 'success', result: 'Hello from the mock.' });
    expect(out.finish()).toBe(out.result);
  });

  it('maps to the answer, its session, finish reason stop and the usage with cache tokens', () => {
    const { out } = replay(lines('json-success'), false);
    const res = mapCliResult(out.finish(), out);
    expect(res).toMatchObject({
      text: 'Hello from the mock.',
      sessionId: '00000000-0000-4000-8000-000000000001',
      finishReason: 'stop',
      usage: { inputTokens: 12, outputTokens: 7, cacheReadTokens: 100, cacheCreationTokens: 20 },
    });
    expect(res.toolCalls).toBeUndefined();
  });

  it('keeps the whole result object, fields it does not know included, for claude_metadata', () => {
    const { out } = replay(lines('json-success'), false);
    const { raw } = mapCliResult(out.finish(), out);
    expect(raw).toEqual(resultLine('json-success'));
    expect(raw).toHaveProperty('modelUsage');
    expect(raw).toHaveProperty('total_cost_usd');
  });

  it('reads a result spread over several lines once stdout has ended', () => {
    const pretty = JSON.stringify(resultLine('json-success'), null, 2).split('\n');
    const { out } = replay(pretty, false);
    expect(out.result).toBeUndefined();
    expect(out.finish()).toEqual(resultLine('json-success'));
  });

  it('has no result when the line is torn, or is not a result, and keeps the raw head for the error', () => {
    const line = lines('json-success')[0]!;
    for (const input of [[line.slice(0, line.length / 2)], ['Error: something went wrong'], ['[1,2,3]'], ['{"type":"assistant"}'], []]) {
      const { out } = replay(input, false);
      expect(out.finish(), JSON.stringify(input)).toBeUndefined();
      expect(out.excerpt()).toBe(input.map((l) => `${l}\n`).join(''));
    }
  });

  it('keeps only about the first 4 KB of raw output', () => {
    const out = new CliOutput(false);
    const noise = 'x'.repeat(100);
    for (let i = 0; i < 1_000; i++) out.push(noise);
    expect(out.excerpt().length).toBeGreaterThanOrEqual(4096);
    expect(out.excerpt().length).toBeLessThan(4096 + noise.length + 2);
  });
});

describe('a streamed run (stream-json with partial messages)', () => {
  it('turns the text deltas into text events, in order, without repeating the complete message', () => {
    const { events } = replay(lines('stream-text'));
    expect(events).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo, ' },
      { type: 'text', text: 'world' },
      { type: 'text', text: '!' },
    ]);
  });

  it('emits each delta on its own line, as it arrives', () => {
    const out = new CliOutput(true);
    const perLine = lines('stream-text').map((l) => texts(out.push(l)));
    const deltaLines = lines('stream-text').map((l) => JSON.parse(l)).map((m) => m.event?.delta?.type === 'text_delta');
    expect(perLine.map((t) => t.length > 0)).toEqual(deltaLines);
  });

  it('learns the run’s tools from system/init and ignores status lines', () => {
    const { out } = replay(lines('stream-text'));
    expect(out.tools).toEqual([]);
    const status = lines('stream-text').find((l) => l.includes('"subtype":"status"'))!;
    expect(new CliOutput(true).push(status)).toEqual([]);
  });

  it('ends with the result: the same text as the deltas, finish reason stop, usage with cache tokens', () => {
    const { out, events } = replay(lines('stream-text'));
    const res = mapCliResult(out.finish(), out);
    expect(res.text).toBe(texts(events).join(''));
    expect(res).toMatchObject({
      sessionId: '00000000-0000-4000-8000-000000000002',
      finishReason: 'stop',
      usage: { inputTokens: 12, outputTokens: 7, cacheReadTokens: 100, cacheCreationTokens: 20 },
    });
  });

  it('skips lines that are not JSON objects, blank or torn, and goes on with the next', () => {
    const clean = replay(lines('stream-text')).events;
    const input = lines('stream-text').flatMap((l, i) => [l, '', 'not json', '[1]', 'null', '42', l.slice(0, 7 + i)]);
    expect(replay(input).events).toEqual(clean);
  });

  it('has no result when the result line is torn (the caller reports the exit and the raw output)', () => {
    const input = lines('stream-text');
    const last = input.at(-1)!;
    const { out } = replay([...input.slice(0, -1), last.slice(0, last.length - 10)]);
    expect(out.finish()).toBeUndefined();
    expect(out.excerpt()).toContain('"subtype":"init"');
  });

  it('leaves out the output of sub-agents (stream events with a parent_tool_use_id)', () => {
    const delta = parsed('stream-text').find((m) => m.event?.delta?.type === 'text_delta')!;
    const sub = JSON.stringify({ ...delta, parent_tool_use_id: 'toolu_agent_1' });
    expect(new CliOutput(true).push(sub)).toEqual([]);
  });
});

describe('a run that uses a Claude Code tool (Bash)', () => {
  it('reports the text, the tool_use with its complete input, the tool_result, then the next message’s text', () => {
    const { events } = replay(lines('stream-bash-tool'));
    expect(events).toEqual([
      { type: 'text', text: 'Running it.' },
      { type: 'tool_use', id: 'toolu_bash_1', name: 'Bash', input: { command: 'echo hi', description: 'Print hi' } },
      { type: 'tool_result', toolUseId: 'toolu_bash_1', content: 'hi', isError: false },
      // a later API message starts a new paragraph
      { type: 'text', text: '\n\nThe command printed hi.' },
    ]);
  });

  it('does not treat a built-in tool as a client call: no call events, no stop for the client', () => {
    const { out, events } = replay(lines('stream-bash-tool'));
    expect(events.some((e) => e.type === 'tool_call_start' || e.type === 'tool_call_delta')).toBe(false);
    expect(out.toolStop).toBeUndefined();
    expect(out.tools).toEqual(['Bash']);
  });

  it('reports a failed tool as an error result', () => {
    const user = parsed('stream-bash-tool').find((m) => m.type === 'user')!;
    user.message.content[0] = { ...user.message.content[0], content: 'command not found', is_error: true };
    expect(new CliOutput(true).push(JSON.stringify(user))).toEqual([
      { type: 'tool_result', toolUseId: 'toolu_bash_1', content: 'command not found', isError: true },
    ]);
  });

  it('ends with the last message’s text and the usage summed over both API calls', () => {
    const { out } = replay(lines('stream-bash-tool'));
    expect(mapCliResult(out.finish(), out)).toMatchObject({
      text: 'The command printed hi.',
      finishReason: 'stop',
      usage: { inputTokens: 40, outputTokens: 11, cacheReadTokens: 50, cacheCreationTokens: 0 },
    });
  });
});

describe('a client function call in the long-lived mode', () => {
  const all = lines('live-client-tool');
  const stopAt = all.findIndex((l) => l.includes('"stop_reason":"tool_use"') && l.includes('message_delta'));
  const turn1 = all.slice(0, stopAt + 1);

  it('streams the call as it is generated: its id and name (prefix stripped), then argument fragments', () => {
    const { events } = replay(turn1);
    const calls = events.filter((e) => e.type === 'tool_call_start' || e.type === 'tool_call_delta');
    expect(calls[0]).toEqual({ type: 'tool_call_start', index: 0, id: 'toolu_weather_1', name: 'get_weather' });
    expect(calls.slice(1).every((e) => e.type === 'tool_call_delta' && e.index === 0)).toBe(true);
    expect(calls.slice(1).map((e) => (e.type === 'tool_call_delta' ? e.arguments : '')).join('')).toBe('{"location":"Paris"}');
    expect(texts(events)).toEqual(['Let me check.']);
  });

  it('stops for the client at the message_delta with stop_reason tool_use, with the calls, text and usage', () => {
    const out = new CliOutput(true);
    for (const line of turn1.slice(0, -1)) if (!isControl(line)) out.push(line);
    expect(out.toolStop).toBeUndefined();
    out.push(turn1.at(-1)!);
    const messageId = parsed('live-client-tool').find((m) => m.event?.type === 'message_start')!.event.message.id;
    expect(out.toolStop).toEqual({
      calls: [{ id: 'toolu_weather_1', name: 'get_weather', arguments: '{"location":"Paris"}' }],
      text: 'Let me check.',
      messageId,
      // input and cache from message_start, output tokens from message_delta
      usage: { input_tokens: 25, output_tokens: 11, cache_read_input_tokens: 0, cache_creation_input_tokens: 15 },
    });
    expect(out.result).toBeUndefined();
  });

  it('takes the complete input of the assistant event over the streamed fragments', () => {
    const out = new CliOutput(true);
    for (const line of turn1) {
      if (isControl(line)) continue;
      const m = JSON.parse(line);
      // fragments that do not add up: the assistant event's input wins
      if (m.event?.delta?.type === 'input_json_delta') m.event.delta.partial_json = '{"loc';
      out.push(JSON.stringify(m));
    }
    expect(out.toolStop?.calls[0]?.arguments).toBe('{"location":"Paris"}');
  });

  it('leaves the control traffic (initialize, tools/list, tools/call) to the process: no events from it', () => {
    const control = all.filter(isControl);
    expect(control.length).toBeGreaterThanOrEqual(4);
    const out = new CliOutput(true);
    expect(control.flatMap((l) => out.push(l))).toEqual([]);
    expect(out.result).toBeUndefined();
  });

  it('goes on after the result with the tool result and the answer, and ends with the run’s result', () => {
    const { out, events } = replay(all);
    const after = events.slice(events.findIndex((e) => e.type === 'tool_use') + 1);
    expect(after).toEqual([
      { type: 'tool_result', toolUseId: 'toolu_weather_1', content: [{ type: 'text', text: 'sunny, 22C' }], isError: false },
      { type: 'text', text: '\n\nIt is sunny ' },
      { type: 'text', text: 'and 22C in Paris.' },
    ]);
    expect(mapCliResult(out.finish(), out)).toMatchObject({
      text: 'It is sunny and 22C in Paris.',
      sessionId: '00000000-0000-4000-8000-000000000004',
      finishReason: 'stop',
      usage: { inputTokens: 65, outputTokens: 20, cacheReadTokens: 30, cacheCreationTokens: 15 },
    });
  });
});

describe('a run that reaches --max-turns', () => {
  it('is not an error: finish reason length, no text, the usage so far', () => {
    const { out, events } = replay(lines('stream-max-turns'));
    expect(events.map((e) => e.type)).toEqual(['tool_use', 'tool_result']);
    expect(out.result).toMatchObject({ subtype: 'error_max_turns', is_error: true });
    expect(out.result).not.toHaveProperty('result');
    expect(mapCliResult(out.finish(), out)).toMatchObject({
      text: '',
      finishReason: 'length',
      usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheCreationTokens: 0 },
    });
  });
});

describe('upstream errors the CLI reports', () => {
  it('429: the retry delay of its api_retry event is kept, the synthetic error text is not model output', () => {
    const { out, events } = replay(lines('stream-error-429'));
    const retry = parsed('stream-error-429').find((m) => m.subtype === 'api_retry')!;
    expect(out.retryDelayMs).toBe(retry.retry_delay_ms);
    expect(out.retryDelayMs).toBeGreaterThan(0);
    expect(events).toEqual([]);
    expect(thrown(() => mapCliResult(out.finish(), out))).toMatchObject({ code: 'upstream_rate_limited' });
  });

  it('529 (json output): overloaded', () => {
    const { out } = replay(lines('json-error-529'), false);
    expect(out.finish()).toMatchObject({ subtype: 'success', is_error: true, api_error_status: 529 });
    expect(thrown(() => mapCliResult(out.finish(), out))).toMatchObject({ code: 'upstream_overloaded' });
  });

  // The recorded error result with what other failures change in it.
  const failed = resultLine('json-error-529');
  it.each([
    ['HTTP 400', { api_error_status: 400 }, 'upstream_invalid_request'],
    ['HTTP 401', { api_error_status: 401, result: 'Failed to authenticate. API Error: 401' }, 'upstream_authentication_error'],
    ['HTTP 403', { api_error_status: 403 }, 'upstream_permission_error'],
    ['HTTP 404', { api_error_status: 404 }, 'upstream_not_found'],
    ['HTTP 413', { api_error_status: 413 }, 'upstream_request_too_large'],
    ['HTTP 500', { api_error_status: 500 }, 'upstream_server_error'],
    ['HTTP 503', { api_error_status: 503 }, 'upstream_overloaded'],
    ['an unlisted status', { api_error_status: 418 }, 'upstream_error'],
    ['no API key', { api_error_status: null, result: 'Not logged in · Please run /login' }, 'upstream_not_logged_in'],
    ['a timeout', { api_error_status: null, result: 'Request timed out. Check your network' }, 'upstream_timeout'],
    ['a refused connection', { api_error_status: null, result: 'API Error: Connection refused (ECONNREFUSED)' }, 'upstream_unreachable'],
    ['any other error', { api_error_status: null, terminal_reason: 'completed', result: 'something odd' }, 'cli_error'],
    ['an interrupted run', { subtype: 'error_during_execution', is_error: true, result: null, terminal_reason: 'aborted_streaming' }, 'cli_aborted'],
  ])('%s maps to %s', (_what, change, code) => {
    const out = new CliOutput(false);
    expect(thrown(() => mapCliResult({ ...failed, ...change }, out))).toMatchObject({ code });
  });
});

describe('result mapping beyond the recordings', () => {
  const ok = resultLine('json-success');
  const map = (change: Json, structured = false, out = new CliOutput(false)) => mapCliResult({ ...ok, ...change }, out, structured);

  it('finish reason: length for a token limit or a spent budget, stop otherwise', () => {
    expect(map({ stop_reason: 'max_tokens' }).finishReason).toBe('length');
    expect(map({ subtype: 'error_max_budget_usd', is_error: true, result: null }).finishReason).toBe('length');
    expect(map({ stop_reason: 'end_turn' }).finishReason).toBe('stop');
  });

  it('counts missing or unusable token figures as 0', () => {
    expect(map({ usage: undefined }).usage).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 });
    expect(map({ usage: { input_tokens: -3, output_tokens: 'many', cache_read_input_tokens: 4 } }).usage).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      cacheReadTokens: 4,
      cacheCreationTokens: 0,
    });
  });

  it('a result it cannot read is bad CLI output, its message quoting the raw output', () => {
    const out = new CliOutput(false);
    out.push('{"type":"result","subtype":"success"}');
    const err = thrown(() => mapCliResult(out.finish(), out));
    expect(err).toMatchObject({ code: 'bad_cli_output' });
    expect(err.message).toContain('"subtype":"success"');
    expect(thrown(() => mapCliResult(undefined, out))).toMatchObject({ code: 'bad_cli_output' });
  });

  it('structured output: the answer is the JSON; a run without it fails, or names a refused schema', () => {
    expect(map({ structured_output: { name: 'Bob', age: 42 } }, true).text).toBe('{"name":"Bob","age":42}');
    expect(thrown(() => map({ structured_output: null }, true))).toMatchObject({ code: 'structured_output_missing' });
    const refused = new CliOutput(true);
    refused.push(JSON.stringify({ type: 'system', subtype: 'init', tools: ['Bash'] }));
    expect(thrown(() => map({ structured_output: null }, true, refused))).toMatchObject({ code: 'invalid_json_schema' });
    // a run cut short by its limits keeps finish reason length rather than failing
    expect(map({ subtype: 'error_max_turns', is_error: true, result: undefined }, true).finishReason).toBe('length');
  });
});
