// Scriptable mock of the Anthropic Messages API, for tests that run the real Claude CLI (or the
// anthropic provider) against 127.0.0.1. Only node:http; every timer and socket is released on close().
import type http from 'node:http';
import { listenMock, splitInto } from './mock-http.js';

export interface MockUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export type MockReply =
  | {
      kind?: 'text';
      /** string[] = separate text deltas */
      text: string | string[];
      /** delay between deltas (slow token streams) */
      chunkDelayMs?: number;
      /** delay before the response headers */
      firstByteDelayMs?: number;
      usage?: Partial<MockUsage>;
      stopReason?: 'end_turn' | 'max_tokens' | 'stop_sequence';
    }
  | {
      kind: 'tool_use';
      name: string;
      input: unknown;
      id?: string;
      text?: string;
      usage?: Partial<MockUsage>;
      /** More tool_use blocks in the same message (parallel tool calls). */
      more?: { name: string; input: unknown }[];
    }
  | { kind: 'error'; status: number; errorType?: string; message?: string; headers?: Record<string, string> }
  /** never answers; the socket stays open until the client goes away or the mock closes */
  | { kind: 'hang' }
  /** headers + message_start, then nothing more */
  | { kind: 'stall' }
  /** SSE with a broken (non-JSON) `data:` line */
  | { kind: 'malformed' }
  /** headers + message_start + one delta, then the socket is destroyed (no message_stop) */
  | { kind: 'drop' };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  lastUserText: string;
  at: number;
}

/** string / RegExp are tested against `lastUserText` (substring for strings). */
export type Matcher = string | RegExp | ((req: RecordedRequest) => boolean);

type ReplySource = MockReply | ((req: RecordedRequest) => MockReply);

export interface MockUpstream {
  url: string;
  requests: RecordedRequest[];
  messageRequests(): RecordedRequest[];
  on(match: Matcher, reply: MockReply | MockReply[] | ((req: RecordedRequest) => MockReply)): void;
  setDefault(reply: ReplySource): void;
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_REPLY: MockReply = { text: 'Hello from mock' };

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

interface Rule {
  match: Matcher;
  replies: MockReply[] | ((req: RecordedRequest) => MockReply);
  used: number;
}

function blockText(block: unknown): string {
  if (typeof block === 'string') return block;
  if (!block || typeof block !== 'object') return '';
  const b = block as { type?: unknown; text?: unknown; content?: unknown };
  if (b.type === 'text' && typeof b.text === 'string') return b.text;
  if (b.type === 'tool_result') {
    if (typeof b.content === 'string') return b.content;
    if (Array.isArray(b.content)) return b.content.map(blockText).filter((s) => s !== '').join('\n');
  }
  return '';
}

export function lastUserTextOf(body: unknown): string {
  const messages = (body as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (!m || m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.map(blockText).filter((s) => s !== '').join('\n');
    return '';
  }
  return '';
}

function matches(match: Matcher, req: RecordedRequest): boolean {
  if (typeof match === 'string') return req.lastUserText.includes(match);
  if (match instanceof RegExp) {
    match.lastIndex = 0;
    return match.test(req.lastUserText);
  }
  return match(req);
}

function fullUsage(u: Partial<MockUsage> | undefined): Required<MockUsage> {
  return {
    input_tokens: u?.input_tokens ?? 10,
    output_tokens: u?.output_tokens ?? 5,
    cache_read_input_tokens: u?.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: u?.cache_creation_input_tokens ?? 0,
  };
}

export async function startMockAnthropic(opts: { port?: number } = {}): Promise<MockUpstream> {
  const requests: RecordedRequest[] = [];
  let rules: Rule[] = [];
  let defaultReply: ReplySource = DEFAULT_REPLY;
  let msgCounter = 0;
  let toolCounter = 0;
  const sleep = (ms: number, res: http.ServerResponse): Promise<boolean> => mock.sleep(ms, res);

  function pickReply(req: RecordedRequest): MockReply {
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i]!;
      if (!matches(rule.match, req)) continue;
      if (typeof rule.replies === 'function') return rule.replies(req);
      if (rule.replies.length === 0) continue;
      const idx = Math.min(rule.used, rule.replies.length - 1);
      rule.used++;
      return rule.replies[idx]!;
    }
    return typeof defaultReply === 'function' ? defaultReply(req) : defaultReply;
  }

  function sse(res: http.ServerResponse, type: string, data: unknown): void {
    if (res.destroyed || res.writableEnded) return;
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...(data as object) })}\n\n`);
  }

  function sseHead(res: http.ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'request-id': `req_mock_${msgCounter}`,
    });
    res.flushHeaders();
  }

  function messageStart(res: http.ServerResponse, id: string, model: string, u: Required<MockUsage>): void {
    sse(res, 'message_start', {
      message: {
        id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
        usage: {
          input_tokens: u.input_tokens,
          cache_creation_input_tokens: u.cache_creation_input_tokens,
          cache_read_input_tokens: u.cache_read_input_tokens,
          output_tokens: 1,
        },
      },
    });
  }

  async function handleMessages(req: RecordedRequest, res: http.ServerResponse): Promise<void> {
    const reply = pickReply(req);
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as { model?: unknown; stream?: unknown };
    const model = typeof body.model === 'string' ? body.model : 'claude-mock';
    const stream = body.stream === true;
    const id = `msg_mock_${++msgCounter}`;

    if (reply.kind === 'error') {
      const errorType = reply.errorType ?? ERROR_TYPES[reply.status] ?? (reply.status >= 500 ? 'api_error' : 'invalid_request_error');
      res.writeHead(reply.status, { 'content-type': 'application/json', 'request-id': `req_mock_${msgCounter}`, ...reply.headers });
      res.end(JSON.stringify({ type: 'error', error: { type: errorType, message: reply.message ?? `mock ${reply.status} ${errorType}` } }));
      return;
    }
    if (reply.kind === 'hang') return; // keep the socket open; close() or the client ends it

    if (reply.kind === 'stall' || reply.kind === 'malformed' || reply.kind === 'drop') {
      if (!stream) {
        // stream:false variants: headers then silence / a truncated JSON body / a body cut by a reset
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_mock_${msgCounter}` });
        res.flushHeaders();
        if (reply.kind === 'stall') return;
        res.write(`{"id":"${id}","type":"message","role":"assistant","model":${JSON.stringify(model)},"content":[{"type":"text","te`);
        if (reply.kind === 'malformed') res.end();
        else if (await sleep(20, res)) res.socket?.destroy();
        return;
      }
      sseHead(res);
      messageStart(res, id, model, fullUsage(undefined));
      if (reply.kind === 'stall') return;
      sse(res, 'content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      if (reply.kind === 'malformed') {
        res.write('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_de\n\n');
        res.end();
        return;
      }
      sse(res, 'content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'partial ' } });
      // let the bytes leave before the socket is torn down
      if (await sleep(20, res)) res.socket?.destroy();
      return;
    }

    // text / tool_use
    type Block = { type: 'text'; deltas: string[] } | { type: 'tool_use'; id: string; name: string; input: unknown };
    const blocks: Block[] = [];
    let stopReason: string;
    let chunkDelayMs = 0;
    let firstByteDelayMs = 0;
    const u = fullUsage(reply.usage);
    if (reply.kind === 'tool_use') {
      if (reply.text !== undefined && reply.text !== '') blocks.push({ type: 'text', deltas: [reply.text] });
      blocks.push({ type: 'tool_use', id: reply.id ?? `toolu_mock_${++toolCounter}`, name: reply.name, input: reply.input });
      for (const extra of reply.more ?? []) {
        blocks.push({ type: 'tool_use', id: `toolu_mock_${++toolCounter}`, name: extra.name, input: extra.input });
      }
      stopReason = 'tool_use';
    } else {
      blocks.push({ type: 'text', deltas: Array.isArray(reply.text) ? reply.text : [reply.text] });
      stopReason = reply.stopReason ?? 'end_turn';
      chunkDelayMs = reply.chunkDelayMs ?? 0;
      firstByteDelayMs = reply.firstByteDelayMs ?? 0;
    }

    if (firstByteDelayMs > 0 && !(await sleep(firstByteDelayMs, res))) return;

    if (!stream) {
      const content = blocks.map((b) =>
        b.type === 'text' ? { type: 'text', text: b.deltas.join('') } : { type: 'tool_use', id: b.id, name: b.name, input: b.input },
      );
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_mock_${msgCounter}` });
      res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage: u }));
      return;
    }

    sseHead(res);
    messageStart(res, id, model, u);
    let first = true;
    for (let index = 0; index < blocks.length; index++) {
      const b = blocks[index]!;
      if (b.type === 'text') {
        sse(res, 'content_block_start', { index, content_block: { type: 'text', text: '' } });
        for (const text of b.deltas) {
          if (!first && chunkDelayMs > 0 && !(await sleep(chunkDelayMs, res))) return;
          first = false;
          sse(res, 'content_block_delta', { index, delta: { type: 'text_delta', text } });
        }
      } else {
        sse(res, 'content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
        for (const partial_json of splitInto(JSON.stringify(b.input ?? {}), 2)) {
          sse(res, 'content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } });
        }
      }
      sse(res, 'content_block_stop', { index });
    }
    sse(res, 'message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: u.output_tokens } });
    sse(res, 'message_stop', {});
    res.end();
  }

  const mock = await listenMock((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: { ...req.headers },
      body,
      lastUserText: lastUserTextOf(body),
      at: Date.now(),
    };
    requests.push(rec);
    if (rec.method === 'POST' && url.pathname === '/v1/messages') {
      handleMessages(rec, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: `mock failure: ${String(err)}` } }));
        } else res.destroy();
      });
    } else if (rec.method === 'POST' && url.pathname === '/v1/messages/count_tokens') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: 10 }));
    } else {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
    }
  }, opts.port);

  return {
    url: `http://127.0.0.1:${mock.port}`,
    requests,
    messageRequests: () =>
      requests.filter((r) => r.method === 'POST' && new URL(r.path, 'http://127.0.0.1').pathname === '/v1/messages'),
    on(match, reply) {
      rules.push({ match, replies: typeof reply === 'function' ? reply : Array.isArray(reply) ? reply : [reply], used: 0 });
    },
    setDefault(reply) {
      defaultReply = reply;
    },
    reset() {
      rules = [];
      defaultReply = DEFAULT_REPLY;
      requests.length = 0;
    },
    close: () => mock.close(),
  };
}
