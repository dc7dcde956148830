// The HTTP plumbing the scriptable upstream mocks share (mock-anthropic.ts, mock-openai.ts): a server on
// 127.0.0.1 that reads each request's JSON body, delays that end early when the client goes away, and
// a close() that releases every socket and timer.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface MockHttp {
  port: number;
  /** Resolves true after ms, or false at once if the response went away / the mock closed. */
  sleep(ms: number, res: http.ServerResponse): Promise<boolean>;
  close(): Promise<void>;
}

/** `body`: the request's JSON, its text when it is not JSON, undefined when empty. */
export type MockHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: any) => void;

/** Splits a string into at most `n` roughly equal non-empty pieces. */
export function splitInto(s: string, n: number): string[] {
  if (s.length === 0) return [''];
  const size = Math.ceil(s.length / n);
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}

export async function listenMock(handler: MockHandler, port = 0): Promise<MockHttp> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const server = http.createServer({ noDelay: true, keepAliveTimeout: 1000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = undefined;
      if (raw !== '') {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      handler(req, res, body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    sleep(ms, res) {
      if (closed || res.destroyed) return Promise.resolve(false);
      if (ms <= 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const onClose = (): void => {
          clearTimeout(t);
          timers.delete(t);
          resolve(false);
        };
        const t = setTimeout(() => {
          timers.delete(t);
          res.off('close', onClose);
          resolve(!closed && !res.destroyed);
        }, ms);
        timers.add(t);
        res.once('close', onClose);
      });
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    },
  };
}
