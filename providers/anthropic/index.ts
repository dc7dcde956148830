import type { ChatRequest, Lifecycle, Provider, ProviderCapabilities, ProviderEvent, ProviderHealth, RunSession } from '../types.js';
import { MessagesClient } from './client.js';
import type { AnthropicSettings } from './env.js';
import { transportError } from './errors.js';
import { listModels, resolveModel } from './models.js';
import { costUsd } from './prices.js';
import { type PreparedMessages, prepareMessages } from './request.js';
import { sseEvents } from './sse.js';
import { MessageStream } from './stream.js';

/**
 * The Anthropic Messages API, as `anthropic/<model>`. Stateless: every request carries its whole
 * conversation, so it keeps no sessions and no run waits for tool results (a `tool_calls` answer
 * ends the request; the client's next one brings the results).
 */
export class AnthropicProvider implements Provider<PreparedMessages>, Lifecycle {
  readonly name = 'anthropic';
  readonly capabilities: ProviderCapabilities<PreparedMessages> = { lifecycle: this };
  private readonly client: MessagesClient;

  constructor(settings: AnthropicSettings) {
    this.client = new MessagesClient(settings);
  }

  models = listModels;
  resolveModel = resolveModel;

  prepare(request: ChatRequest): PreparedMessages {
    return prepareMessages(request);
  }

  async *run(prepared: PreparedMessages, session: RunSession, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const body = await this.client.stream(prepared.body, signal);
    const message = new MessageStream(prepared.outputTool);
    try {
      for await (const sse of sseEvents(body)) yield* message.push(sse);
    } catch (err) {
      throw signal.aborted ? signal.reason : transportError(err);
    } finally {
      // A run that ends early (an error event, its reader gone) lets go of the connection.
      if (!body.readableEnded) body.destroy();
    }
    const result = message.result(session.sessionId);
    // Priced by the model asked for: the gateway's name of the target, and the one its price is known by.
    yield { type: 'result', result: { ...result, costUsd: costUsd(prepared.body.model, result.usage) } };
  }

  async hasSession(): Promise<boolean> {
    return false;
  }

  /** Ready whenever it has a credential (it is only registered then): no call to the API. */
  async check(): Promise<ProviderHealth> {
    return { ok: true };
  }

  start(): void {}

  close(): Promise<void> {
    return this.client.close();
  }

  stats(): undefined {
    return undefined;
  }
}
