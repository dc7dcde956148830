import { modelAfterPrefix } from './model-names.js';
import type { Lifecycle, ModelInfo, ProviderCapabilities, ProviderHealth } from './types.js';
import type { UpstreamClient } from './upstream-client.js';

/** How an instance is known: its name (the prefix of `<name>/<model>`), the models it lists, and their owner. */
export interface ProviderNaming {
  name: string;
  /** Listed on `/v1/models`; any other name after the prefix is passed on too: the upstream decides. */
  models: readonly string[];
  ownedBy: string;
}

/**
 * What the providers of a stateless HTTP API share: every request carries its whole conversation, so
 * they keep no sessions and no run waits for tool results (a `tool_calls` answer ends the request;
 * the client's next one brings the results); their one running part is the client's connection pool.
 */
export abstract class StatelessHttpProvider<P> implements Lifecycle {
  readonly capabilities: ProviderCapabilities<P> = { lifecycle: this };
  readonly name: string;

  constructor(
    private readonly naming: ProviderNaming,
    protected readonly client: UpstreamClient,
  ) {
    this.name = naming.name;
  }

  models(): ModelInfo[] {
    return this.naming.models.map((m) => ({ id: `${this.name}/${m}`, ownedBy: this.naming.ownedBy }));
  }

  /** `<name>/<model>` → `<model>`, listed or not. */
  resolveModel(requested: string): string | undefined {
    return modelAfterPrefix(requested, `${this.name}/`);
  }

  async hasSession(): Promise<boolean> {
    return false;
  }

  /** Ready once configured (it is only registered then): no call to the API, which may start after the gateway. */
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
