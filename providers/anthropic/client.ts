import { Pool, type Dispatcher } from 'undici';
import type { AnthropicSettings } from './env.js';
import { httpError, transportError } from './errors.js';
import type { MessagesBody } from './wire.js';

export const ANTHROPIC_VERSION = '2023-06-01';

/** Bounds the keep-alive connections to the API's origin. */
const CONNECTIONS = 32;
/** Headers, and each stretch between body chunks, may take this long before the request times out. */
const IDLE_TIMEOUT_MS = 300_000;
/** How much of an error answer is read, for its message. */
const MAX_ERROR_BODY = 64 * 1024;

/** POSTs to the Messages API over one keep-alive pool of the base URL's origin. */
export class MessagesClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly auth: Record<string, string>;

  constructor(settings: AnthropicSettings) {
    const url = new URL(settings.baseUrl);
    this.pool = new Pool(url.origin, { connections: CONNECTIONS, pipelining: 1, headersTimeout: IDLE_TIMEOUT_MS, bodyTimeout: IDLE_TIMEOUT_MS });
    // A base URL with a path (a proxy's prefix) keeps it.
    this.path = `${url.pathname.replace(/\/+$/, '')}/v1/messages`;
    this.auth = settings.apiKey ? { 'x-api-key': settings.apiKey } : { authorization: `Bearer ${settings.authToken}` };
  }

  /**
   * Sends a streamed request: resolves with the open event stream of a 200, or throws the
   * ProviderError of any other answer or of a failure to reach the API (`signal.reason` once aborted).
   */
  async stream(body: MessagesBody, signal: AbortSignal): Promise<Dispatcher.ResponseData['body']> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: { ...this.auth, 'anthropic-version': ANTHROPIC_VERSION, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      throw signal.aborted ? signal.reason : transportError(err);
    }
    if (res.statusCode === 200) return res.body;
    const text = await readCapped(res.body).catch(() => '');
    throw httpError(res.statusCode, res.headers, text);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
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
