import { type ProviderRegistry, type Target, targetName } from '../../providers/registry.js';
import type { TokenPrice } from '../../providers/pricing.js';
import type { ModelInfo, Provider } from '../../providers/types.js';
import { type CooldownPolicy, Cooldowns } from './cooldown.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry-policy.js';

/** A model name clients use that the gateway serves by trying targets in order (GATEWAY_CONFIG `models`). */
export interface RouteSpec {
  /** Model names as clients would send them (`anthropic/claude-sonnet-4-5`, `claude-cli/sonnet`). */
  targets: readonly string[];
  retry?: Partial<RetryPolicy>;
  /** Each try's deadline; default: what is left of the request's, shared among the targets left. */
  attemptTimeoutMs?: number;
}

/** What GATEWAY_CONFIG says of routing; reloadable as a whole. */
export interface RoutingSettings {
  routes: Readonly<Record<string, RouteSpec>>;
  retry: RetryPolicy;
  cooldown: CooldownPolicy;
  /** USD per million tokens by target name (`<provider>/<model>`) or requested model name. */
  prices: Readonly<Record<string, TokenPrice>>;
}

export const DEFAULT_ROUTING: RoutingSettings = Object.freeze({
  routes: {},
  retry: DEFAULT_RETRY,
  cooldown: { failures: 3, seconds: 30 },
  prices: {},
});

/** How a requested model is served: the targets to try, in order, and how each is retried. */
export interface Plan {
  /** The route's name, when the model named one. */
  route?: string;
  targets: Target[];
  retry: RetryPolicy;
  attemptTimeoutMs?: number;
}

/** A route target that no provider serves, named as its place in the config (`models.smart.targets[1]`). */
export class RouteConfigError extends Error {
  override name = 'RouteConfigError';
}

/**
 * Model names → plans: a route's targets, or the one provider target of any other name. The
 * cooldowns live here because they outlast requests; a reload keeps them (targets keep their names).
 */
export class Router {
  readonly cooldowns: Cooldowns;
  private settings!: RoutingSettings;

  constructor(
    private readonly registry: ProviderRegistry,
    settings: RoutingSettings = DEFAULT_ROUTING,
  ) {
    this.cooldowns = new Cooldowns(settings.cooldown);
    this.update(settings);
  }

  /** Every provider, in registration order. */
  get providers(): Provider[] {
    return this.registry.providers;
  }

  /** Takes new settings, once every route target resolves; else throws and keeps the old ones. */
  update(settings: RoutingSettings): void {
    for (const [name, route] of Object.entries(settings.routes)) {
      if (this.registry.resolve(name)) throw new RouteConfigError(`models.${name}: is already a model of a provider; pick another route name`);
      route.targets.forEach((t, i) => {
        if (!this.registry.resolve(t)) throw new RouteConfigError(`models.${name}.targets[${i}]: no provider serves the model '${t}'`);
      });
    }
    this.settings = settings;
    this.cooldowns.setPolicy(settings.cooldown);
  }

  plan(requested: string): Plan | undefined {
    const route = Object.hasOwn(this.settings.routes, requested) ? this.settings.routes[requested] : undefined;
    if (route) {
      return {
        route: requested,
        targets: route.targets.map((t) => this.registry.resolve(t)!),
        retry: { ...this.settings.retry, ...route.retry },
        attemptTimeoutMs: route.attemptTimeoutMs,
      };
    }
    const target = this.registry.resolve(requested);
    return target && { targets: [target], retry: this.settings.retry };
  }

  /** The routes, for `/v1/models`. */
  models(): ModelInfo[] {
    return Object.keys(this.settings.routes).map((id) => ({ id, ownedBy: 'gateway' }));
  }

  /** The configured price of a target, or of the model as requested; undefined when none is configured. */
  price(target: Target, requested: string): TokenPrice | undefined {
    const { prices } = this.settings;
    const name = targetName(target);
    return Object.hasOwn(prices, name) ? prices[name] : Object.hasOwn(prices, requested) ? prices[requested] : undefined;
  }
}
