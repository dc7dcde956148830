// Scriptable mock of an OpenAI-compatible chat completions API (vLLM, llama.cpp, OpenAI), for tests that
// drive the openai-compatible provider (or another gateway, or a bench) against 127.0.0.1. Only
// node:http; every timer and socket is released on close().
import type http from 'node:http';
import { listenMock, splitInto } from './mock-http.js';

export interface MockOpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  /** Reported as prompt_tokens_details.cached_tokens (a part of prompt_tokens). */
  cached_tokens?: number;
}

export type MockOpenAIReply =
  | {
      kind?: 'text';
      /** string[] = separate content deltas */
      text: string | string[];
      usage?: MockOpenAIUsage;
      /** default `stop` */
      finish_reason?: string;
      /** delay between deltas (slow token streams) */
      chunkDelayMs?: number;
      /** delay before the response headers */
      firstByteDelayMs?: number;
    }
  | {
      kind: 'tool_calls';
      /** One call or several (parallel calls); object arguments are sent as their JSON. */
      calls: { name: string; arguments: string | Record<string, unknown>; id?: string }[];
      /** Text the model says before its calls. */
      text?: string;
      usage?: MockOpenAIUsage;
      /** default `tool_calls` */
      finish_reason?: string;
    }
  | { kind: 'error'; status: number; message?: string; type?: string; code?: string; headers?: Record<string, string> }
  /** never answers; the socket stays open until the client goes away or the mock closes */
  | { kind: 'hang' }
  /** streams `text` (default 'partial '), then a `data: {"error": …}` chunk, and ends (stream:false: a 500) */
  | { kind: 'stream_error'; text?: string; message?: string; type?: string }
  /** streams `text` (default 'partial '), then ends without a finish reason or [DONE] */
  | { kind: 'truncated'; text?: string };

export interface MockOpenAIRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  at: number;
}

export interface MockOpenAI {
  /** The base URL, `/v1` included: `http://127.0.0.1:<port>/v1`. */
  url: string;
  /** Every request, in order. */
  requests: MockOpenAIRequest[];
  /** Queues replies, consumed one per chat completion request; with the queue empty, text 'ok'. */
  script(replies: MockOpenAIReply[]): void;
  /** Answers in progress (a streamed one, a hang): 0 once every client went away or got its answer. */
  active(): number;
  close(): Promise<void>;
}

const DEFAULT_REPLY: MockOpenAIReply = { text: 'ok' };

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

function usageOf(u: MockOpenAIUsage | undefined) {
  const prompt = u?.prompt_tokens ?? 10;
  const completion = u?.completion_tokens ?? 5;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: u?.cached_tokens ?? 0 },
  };
}

export async function startMockOpenAI(opts: { port?: number } = {}): Promise<MockOpenAI> {
  const requests: MockOpenAIRequest[] = [];
  const queue: MockOpenAIReply[] = [];
  const open = new Set<http.ServerResponse>();
  let counter = 0;
  const sleep = (ms: number, res: http.ServerResponse): Promise<boolean> => mock.sleep(ms, res);

  function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  async function handleCompletion(req: MockOpenAIRequest, res: http.ServerResponse): Promise<void> {
    const reply = queue.shift() ?? DEFAULT_REPLY;
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } };
    const model = typeof body.model === 'string' ? body.model : 'mock-model';
    const stream = body.stream === true;
    const id = `chatcmpl-mock-${++counter}`;
    const created = Math.floor(Date.now() / 1000);
    const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock' };

    if (reply.kind === 'error') {
      const type = reply.type ?? ERROR_TYPES[reply.status] ?? (reply.status >= 500 ? 'server_error' : 'invalid_request_error');
      json(res, reply.status, { error: { message: reply.message ?? `mock ${reply.status} ${type}`, type, param: null, code: reply.code ?? null } }, reply.headers);
      return;
    }
    if (reply.kind === 'hang') return; // keep the socket open; close() or the client ends it

    const text = reply.kind === 'tool_calls' ? (reply.text ? [reply.text] : []) : Array.isArray(reply.text) ? reply.text : [reply.text ?? 'partial '];
    if (reply.kind === undefined || reply.kind === 'text') {
      if (reply.firstByteDelayMs && !(await sleep(reply.firstByteDelayMs, res))) return;
    }
    const calls =
      reply.kind === 'tool_calls'
        ? reply.calls.map((c, i) => ({
            id: c.id ?? `call_mock_${counter}_${i}`,
            name: c.name,
            arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
          }))
        : [];
    const finish = reply.kind === 'tool_calls' ? (reply.finish_reason ?? 'tool_calls') : reply.kind === undefined || reply.kind === 'text' ? (reply.finish_reason ?? 'stop') : undefined;
    const usage = usageOf(reply.kind === undefined || reply.kind === 'text' || reply.kind === 'tool_calls' ? reply.usage : undefined);

    if (!stream) {
      if (reply.kind === 'stream_error' || reply.kind === 'truncated') {
        json(res, 500, { error: { message: reply.kind === 'stream_error' ? (reply.message ?? 'mock failure') : 'mock truncated', type: 'server_error', param: null, code: null } });
        return;
      }
      const message = {
        role: 'assistant',
        content: text.length ? text.join('') : null,
        ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
        refusal: null,
      };
      json(res, 200, { id, object: 'chat.completion', created, model, system_fingerprint: 'fp_mock', choices: [{ index: 0, message, finish_reason: finish, logprobs: null }], usage });
      return;
    }

    const send = (data: unknown): void => {
      if (!res.destroyed && !res.writableEnded) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    };
    const delta = (d: Record<string, unknown>, finishReason: string | null = null) =>
      send({ ...base, choices: [{ index: 0, delta: d, finish_reason: finishReason, logprobs: null }] });

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    delta({ role: 'assistant', content: '' });
    const chunkDelayMs = reply.kind === undefined || reply.kind === 'text' ? (reply.chunkDelayMs ?? 0) : 0;
    for (let i = 0; i < text.length; i++) {
      if (i > 0 && chunkDelayMs > 0 && !(await sleep(chunkDelayMs, res))) return;
      delta({ content: text[i] });
    }
    if (reply.kind === 'stream_error') {
      send({ error: { message: reply.message ?? 'mock stream failure', type: reply.type ?? 'server_error', param: null, code: null } });
      res.end();
      return;
    }
    if (reply.kind === 'truncated') {
      res.end();
      return;
    }
    calls.forEach((c, index) => {
      delta({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] });
      for (const piece of splitInto(c.arguments, 2)) if (piece) delta({ tool_calls: [{ index, function: { arguments: piece } }] });
    });
    delta({}, finish ?? 'stop');
    if (body.stream_options?.include_usage === true) send({ ...base, choices: [], usage });
    send('[DONE]');
    res.end();
  }

  const mock = await listenMock((req, res, body) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    const rec: MockOpenAIRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, body, at: Date.now() };
    requests.push(rec);
    const pathname = new URL(rec.path, 'http://127.0.0.1').pathname;
    if (rec.method === 'POST' && pathname.endsWith('/chat/completions')) {
      handleCompletion(rec, res).catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { error: { message: `mock failure: ${String(err)}`, type: 'server_error' } });
        else res.destroy();
      });
    } else if (rec.method === 'GET' && pathname.endsWith('/models')) {
      json(res, 200, { object: 'list', data: [{ id: 'mock-model', object: 'model', created: 0, owned_by: 'mock' }] });
    } else {
      json(res, 404, { error: { message: `no route ${rec.method} ${pathname}`, type: 'not_found_error' } });
    }
  }, opts.port);

  return {
    url: `http://127.0.0.1:${mock.port}/v1`,
    requests,
    script(replies) {
      queue.push(...replies);
    },
    active: () => open.size,
    close: () => mock.close(),
  };
}
