import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { StartupError, describeFsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Gateway } from '../gateway.js';
import { AgentIds, type SocketMetrics } from './commands.js';
import { Connection, type KeyCheck } from './connection.js';

export type { KeyCheck };

export interface SocketServerOptions {
  /** SOCKET_PATH, absolute. */
  path: string;
  /** The longest request line, in bytes (BODY_LIMIT_BYTES). */
  lineLimit: number;
  /** ALLOWED_TOOLS: what SPAWN's `enable_tools` turns on. */
  allowedTools: readonly string[];
  keys: KeyCheck;
  log: Logger;
  /** Where its processes and subscribers are counted. */
  metrics?: SocketMetrics;
}

export interface SocketServer {
  readonly path: string;
  /** Stops listening, closes every connection (cancelling their sync SPAWNs), removes the socket file. Never rejects. */
  close(): Promise<void>;
}

/** What `sun_path` holds on Linux (108 bytes with the terminating NUL). */
const MAX_PATH_BYTES = 107;

const errno = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

/** Whether something answers on the socket at `path`. */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Makes room for the socket: a socket file nobody listens on (left by a gateway that died) is
 * removed; anything else at the path (a live socket, a regular file) stops the start.
 */
async function clearStale(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw new StartupError(`SOCKET_PATH ${path} cannot be checked: ${describeFsError(err)}`);
  }
  if (!stat.isSocket()) throw new StartupError(`SOCKET_PATH ${path} exists and is not a socket: remove it or choose another path`);
  if (await listening(path)) throw new StartupError(`SOCKET_PATH ${path} is in use: another process listens on it`);
  try {
    unlinkSync(path);
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw new StartupError(`SOCKET_PATH ${path}: the stale socket cannot be removed: ${describeFsError(err)}`);
  }
}

/** Listens on `path` with the socket file created owner-only (0600), never wider even for an instant. */
function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(new StartupError(`SOCKET_PATH ${path} cannot be listened on: ${describeFsError(err)}`));
    server.once('error', failed);
    // The file is made by bind(), synchronously within listen(): the umask covers it, and only it.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', failed);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
}

/**
 * The Unix-socket front door on `opts.path`: newline-delimited JSON requests (SPAWN, SUBSCRIBE,
 * GET_PROCESSES, HEALTH_CHECK) over the gateway, any number of connections at once. Owner-only by
 * the socket file's mode; with API keys on, each request also presents a key.
 */
export async function startSocketServer(gateway: Gateway, opts: SocketServerOptions): Promise<SocketServer> {
  const { path, log } = opts;
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw new StartupError(`SOCKET_PATH ${path} is too long for a Unix socket (at most ${MAX_PATH_BYTES} bytes)`);
  await clearStale(path);
  const connections = new Set<Connection>();
  const deps = { gateway, allowedTools: opts.allowedTools, agents: new AgentIds(), keys: opts.keys, log, lineLimit: opts.lineLimit, metrics: opts.metrics };
  // Half-open: a client that closes its sending side is still answered what it asked (see Connection).
  const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    const connection = new Connection(socket, deps);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
  });
  await listen(server, path);
  try {
    chmodSync(path, 0o600);
  } catch (err) {
    server.close();
    throw new StartupError(`SOCKET_PATH ${path} cannot be made owner-only: ${describeFsError(err)}`);
  }
  log.info({ path }, 'unix socket listening');

  let closed: Promise<void> | undefined;
  return {
    path,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.destroy();
      }).then(() => {
        try {
          unlinkSync(path);
        } catch (err) {
          if (errno(err) !== 'ENOENT') log.warn({ err, path }, 'the unix socket file could not be removed');
        }
        log.info({ path }, 'unix socket closed');
      });
      return closed;
    },
  };
}
