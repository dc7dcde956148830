import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection before `waitMs`. */
  closed: boolean;
}

export interface RawRequest {
  method?: string;
  /** The request target exactly as sent: fetch and http.request would normalize it. */
  target: string;
  /** Over the defaults `host: 127.0.0.1:<port>` and `connection: close`; `undefined` drops one. */
  headers?: Record<string, string | undefined>;
  body?: string;
  /** How long to wait for the server to close the connection (an upgraded one never does). */
  waitMs?: number;
}

/** The first HTTP response in `text` (status 0 when there is none). */
export function parseResponse(text: string, closed: boolean): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  return { status, headers, body: end < 0 ? '' : text.slice(end + 4), closed };
}

/** Writes bytes to the port and collects what comes back until the server closes or `waitMs` passes. */
export function exchange(port: number, bytes: string, waitMs = 5_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', (err) => {
      clearTimeout(timer);
      // A reset after the answer arrived is a close like any other.
      if (text) resolve({ text, closed: true });
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

/** Sends one request as written, over its own connection. */
export async function rawRequest(port: number, r: RawRequest): Promise<RawResponse> {
  const headers: Record<string, string | undefined> = {
    host: `127.0.0.1:${port}`,
    connection: 'close',
    ...(r.body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(r.body)) } : {}),
    ...r.headers,
  };
  const lines = Object.entries(headers)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const { text, closed } = await exchange(port, `${r.method ?? 'GET'} ${r.target} HTTP/1.1\r\n${lines}\r\n${r.body ?? ''}`, r.waitMs);
  return parseResponse(text, closed);
}

/** The headers of a valid WebSocket handshake. */
export const upgradeHeaders = (): Record<string, string> => ({
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
});

export const portOf = (url: string): number => Number(new URL(url).port);
