import { Pool, type Dispatcher } from 'undici';
import { type SseEvent, sseEvents } from './sse.js';
import { httpError, transportError } from './upstream-errors.js';

/** Bounds the keep-alive connections to the API's origin. */
const CONNECTIONS = 32;
/** Headers, and each stretch between body chunks, may take this long before the request times out. */
const IDLE_TIMEOUT_MS = 300_000;
/** How much of an error answer is read, for its message. */
const MAX_ERROR_BODY = 64 * 1024;

export interface UpstreamClientOptions {
  /** The API's base URL; a path in it (a proxy's prefix, OpenAI's `/v1`) is kept before `path`. */
  baseUrl: string;
  /** The endpoint under the base URL: `/v1/messages`, `/chat/completions`. */
  path: string;
  /** Sent with every request: credentials, API versions, configured extras. */
  headers: Record<string, string>;
  /** Names the upstream in error messages (`Anthropic API`). */
  api: string;
}

type ResponseBody = Dispatcher.ResponseData['body'];

/**
 * POSTs streamed requests to one endpoint of an HTTP model API, over one keep-alive pool of the base
 * URL's origin (no pipelining: a streamed answer holds its connection). Shared by the HTTP providers.
 */
export class UpstreamClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly api: string;

  constructor(opts: UpstreamClientOptions) {
    const url = new URL(opts.baseUrl);
    this.pool = new Pool(url.origin, { connections: CONNECTIONS, pipelining: 1, headersTimeout: IDLE_TIMEOUT_MS, bodyTimeout: IDLE_TIMEOUT_MS });
    this.path = `${url.pathname.replace(/\/+$/, '')}${opts.path}`;
    // Lower-cased, so a configured `Authorization` and the provider's own do not both go out.
    const headers = Object.entries(opts.headers).map(([name, value]) => [name.toLowerCase(), value]);
    this.headers = { ...Object.fromEntries(headers), 'content-type': 'application/json', accept: 'text/event-stream' };
    this.api = opts.api;
  }

  /**
   * Sends a request for a stream: resolves with the open body of a 200, or throws the ProviderError
   * of any other answer or of a failure to reach the API (`signal.reason` once aborted).
   */
  async post(body: unknown, signal: AbortSignal): Promise<ResponseBody> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({ method: 'POST', path: this.path, headers: this.headers, body: JSON.stringify(body), signal });
    } catch (err) {
      throw signal.aborted ? signal.reason : transportError(this.api, err);
    }
    if (res.statusCode === 200) return res.body;
    const text = await readCapped(res.body).catch(() => '');
    throw httpError(this.api, res.statusCode, res.headers, text);
  }

  /**
   * The server-sent events of a streamed answer, as they arrive. A reader that stops early (an error
   * event, its own reader gone) lets go of the connection; an abort throws `signal.reason`.
   */
  async *events(body: unknown, signal: AbortSignal): AsyncGenerator<SseEvent> {
    const res = await this.post(body, signal);
    try {
      yield* sseEvents(res);
    } catch (err) {
      throw signal.aborted ? signal.reason : transportError(this.api, err);
    } finally {
      if (!res.readableEnded) res.destroy();
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

async function readCapped(body: ResponseBody): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    text += String(chunk);
    if (text.length > MAX_ERROR_BODY) {
      body.destroy();
      break;
    }
  }
  return text;
}
