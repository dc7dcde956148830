import { StatelessHttpProvider } from '../stateless-http-provider.js';
import type { ChatRequest, Provider, ProviderEvent, RunSession } from '../types.js';
import { messagesClient } from './client.js';
import type { AnthropicSettings } from './env.js';
import { KNOWN_MODELS } from './models.js';
import { costUsd } from './prices.js';
import { type PreparedMessages, prepareMessages } from './request.js';
import { MessageStream } from './stream.js';

/** The Anthropic Messages API, as `anthropic/<model>` (or `<name>/<model>`). Stateless (see StatelessHttpProvider). */
export class AnthropicProvider extends StatelessHttpProvider<PreparedMessages> implements Provider<PreparedMessages> {
  /** Named `anthropic`, or as GATEWAY_CONFIG names another instance: the prefix of its models. */
  constructor(settings: AnthropicSettings) {
    super({ name: settings.name ?? 'anthropic', models: settings.models ?? KNOWN_MODELS, ownedBy: 'anthropic' }, messagesClient(settings));
  }

  prepare(request: ChatRequest): PreparedMessages {
    return prepareMessages(request);
  }

  async *run(prepared: PreparedMessages, session: RunSession, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const message = new MessageStream(prepared.outputTool);
    for await (const sse of this.client.events(prepared.body, signal)) yield* message.push(sse);
    const result = message.result(session.sessionId);
    // Priced by the model asked for: the gateway's name of the target, and the one its price is known by.
    yield { type: 'result', result: { ...result, costUsd: costUsd(prepared.body.model, result.usage) } };
  }
}
