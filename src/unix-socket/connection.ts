import type { Socket } from 'node:net';
import { AuthenticationError, CancelledError, knownError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ANONYMOUS, type Principal } from '../core/ownership.js';
import type { GatewayEvent } from '../core/process-types.js';
import { type CommandDeps, getProcesses, healthCheck, spawn } from './commands.js';
import { LineSplitter } from './lines.js';
import {
  COMMANDS,
  ERROR_CODES,
  type EventLine,
  type Reply,
  type SocketRequest,
  errorReply,
  eventLine,
  failure,
  isCommand,
  parseLine,
  parseParameters,
  presentedKey,
  serialize,
  subscribeParametersSchema,
  success,
} from './protocol.js';

/** The API keys, as the HTTP front door holds them (its KeyRing, reloaded on SIGHUP). */
export interface KeyCheck {
  /** Whether keys are required at all. */
  readonly enabled: boolean;
  /** Whom a presented key stands for; undefined when it is none of the keys. */
  match(key: string): Principal | undefined;
}

export interface ConnectionDeps extends CommandDeps {
  keys: KeyCheck;
  log: Logger;
  /** The longest request line, in bytes (BODY_LIMIT_BYTES). */
  lineLimit: number;
}

/** Lines read ahead of the one being answered before reading pauses. */
const MAX_QUEUED_LINES = 64;
/** A subscriber this far behind is disconnected rather than buffered for without bound (as on the WebSocket). */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * One client: requests are answered one at a time, in the order they came (a sync SPAWN holds the
 * replies after it until its run is done); a subscription's events are written as they happen, in
 * between. A client that closes its sending side (`echo … | nc -N -U`, ncat, socat) asks nothing
 * more: what it asked is answered, then the connection is closed, unless it subscribed (its events
 * go on until it closes the connection). A client that closes the connection is gone: its sync
 * SPAWNs are cancelled (as an HTTP client's completion is) and its subscription ends.
 */
export class Connection {
  private readonly lines: LineSplitter;
  private readonly queue: string[] = [];
  private working = false;
  private readonly gone = new AbortController();
  /** The client closed its sending side: no more requests. */
  private ended = false;
  private unsubscribe: (() => void) | undefined;
  /** The events of the current subscription, written one after another. */
  private events: Promise<void> = Promise.resolve();
  /** Lets a new subscription's events out once its success reply is written. */
  private replied: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly deps: ConnectionDeps,
  ) {
    this.lines = new LineSplitter(deps.lineLimit);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    // The client closed its sending side (allowHalfOpen): it still reads what it asked.
    socket.on('end', () => {
      this.ended = true;
      if (!this.working && !this.unsubscribe) this.finish();
    });
    socket.on('close', () => {
      this.leave();
      this.queue.length = 0;
    });
    socket.on('error', (err) => deps.log.debug({ err }, 'unix socket client connection error'));
  }

  /** Ends the connection at once (the server is closing). */
  destroy(): void {
    this.leave();
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    if (this.gone.signal.aborted) return;
    this.queue.push(...this.lines.push(chunk));
    if (this.lines.overflowed) {
      // Nothing after an overlong line can be read as a request: answered, then closed.
      this.write(failure(null, ERROR_CODES.tooLarge, `a request line is longer than ${this.lines.limit} bytes (BODY_LIMIT_BYTES): the connection is closed`));
      this.leave();
      this.queue.length = 0;
      this.socket.end(() => this.socket.destroy());
      return;
    }
    if (this.queue.length >= MAX_QUEUED_LINES) this.socket.pause();
    void this.work();
  }

  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    while (this.queue.length) {
      const line = this.queue.shift()!;
      if (this.socket.isPaused() && this.queue.length < MAX_QUEUED_LINES / 2) this.socket.resume();
      this.write(await this.answer(line));
      this.replied?.();
      this.replied = undefined;
    }
    this.working = false;
    if (this.gone.signal.aborted || (this.ended && !this.unsubscribe)) this.finish();
  }

  /** The client is gone: its sync runs are cancelled, its subscription ends. */
  private leave(): void {
    this.gone.abort();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Everything asked is answered: the connection is closed (once what was written is sent). */
  private finish(): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.end();
  }

  private write(message: Reply | EventLine): void {
    if (this.socket.writable) this.socket.write(serialize(message));
  }

  private async answer(line: string): Promise<Reply> {
    const parsed = parseLine(line);
    if (!parsed.ok) return parsed.reply;
    const { request } = parsed;
    const { command } = request;
    if (!isCommand(command)) return failure(command, ERROR_CODES.unknownCommand, `unknown command '${command}' (known: ${COMMANDS.join(', ')})`);
    try {
      const { deps } = this;
      switch (command) {
        // Open, as GET /ready is.
        case 'HEALTH_CHECK':
          return success(command, await healthCheck(deps.gateway));
        case 'SPAWN':
          if (this.gone.signal.aborted && request.parameters.mode === 'sync') throw new CancelledError('client_disconnected');
          return success(command, await spawn(request.parameters, deps, this.principal(request), this.gone.signal));
        case 'SUBSCRIBE':
          return success(command, this.subscribe(request, this.principal(request)));
        case 'GET_PROCESSES':
          return success(command, await getProcesses(request.parameters, deps.gateway, this.principal(request)));
      }
    } catch (err) {
      const known = knownError(err);
      if (known) return errorReply(command, known);
      this.deps.log.error({ err, command }, 'a unix socket command failed');
      return failure(command, ERROR_CODES.internal, 'internal error');
    }
  }

  /**
   * Whom a request acts for: without keys, the one user (who sees everything); with keys, the key in
   * `metadata.api_key` or `parameters.api_key`, else UNAUTHORIZED.
   */
  private principal(request: SocketRequest): Principal {
    const { keys } = this.deps;
    if (!keys.enabled) return ANONYMOUS;
    const key = presentedKey(request);
    if (!key) throw new AuthenticationError('missing API key: send it as metadata.api_key', 'missing_api_key');
    const principal = keys.match(key);
    if (!principal) throw new AuthenticationError('invalid API key');
    return principal;
  }

  /**
   * SUBSCRIBE: replaces the connection's subscription. Its events go out after its success reply,
   * each with the agent id of its process, only those of `agent_id` when it is given.
   */
  private subscribe(request: SocketRequest, principal: Principal) {
    const { event_types, agent_id } = parseParameters(subscribeParametersSchema, request.parameters);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const result = { event_types, agent_id: agent_id ?? null };
    if (this.gone.signal.aborted) return result;
    this.events = new Promise((resolve) => (this.replied = resolve));
    let active = true;
    const stop = this.deps.gateway.subscribe({ filter: { types: event_types }, principal }, (e) => {
      this.events = this.events
        .then(() => (active ? this.deliver(e, principal, agent_id ?? null) : undefined))
        .catch((err: unknown) => this.deps.log.error({ err }, 'an event could not be sent on the unix socket'));
    });
    const left = this.deps.metrics?.eventSubscriber('socket');
    this.unsubscribe = () => {
      active = false;
      stop();
      left?.();
    };
    return result;
  }

  private async deliver(e: GatewayEvent, principal: Principal, wanted: string | null): Promise<void> {
    const { gateway, agents, log } = this.deps;
    const agentId = await agents.of(e, gateway, principal);
    if (wanted !== null && agentId !== wanted) return;
    if (this.socket.writableLength > MAX_BUFFERED_BYTES) {
      log.warn({ buffered: this.socket.writableLength }, 'unix socket subscriber too slow: disconnected');
      this.destroy();
      return;
    }
    this.write(eventLine(e, agentId));
  }
}
