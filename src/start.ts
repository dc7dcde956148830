import { ProviderRegistry } from '../providers/registry.js';
import type { Provider } from '../providers/types.js';
import { type Config, ConfigError } from './config.js';
import type { Logger } from './core/logger.js';
import type { GatewayMetrics } from './core/metrics.js';
import type { GatewayTracer } from './core/tracing.js';
import { MemoryResponseCache } from './core/response-cache.js';
import { RouteConfigError } from './core/routing.js';
import { type Gateway, createGateway } from './gateway.js';
import { type GatewayConfig, loadGatewayConfig, routingSettings } from './gateway-config.js';
import { type ProviderMetrics, createProviders } from './providers.js';

const MIB = 1024 * 1024;

/** GATEWAY_CONFIG, when the environment names one: throws ConfigError naming the file and the field. */
export function readGatewayConfig(config: Config, env: NodeJS.ProcessEnv): GatewayConfig | undefined {
  return config.gatewayConfigFile ? loadGatewayConfig(config.gatewayConfigFile, env) : undefined;
}

/** The response cache: on when CACHE_TTL_S > 0 or GATEWAY_CONFIG has a `cache` section (which wins). */
function responseCache(config: Config, gatewayConfig?: GatewayConfig): MemoryResponseCache | undefined {
  const ttlS = gatewayConfig?.cache?.ttl_s ?? config.cacheTtlS;
  if (!(ttlS > 0)) return undefined;
  return new MemoryResponseCache({ ttlMs: ttlS * 1000, maxBytes: (gatewayConfig?.cache?.max_mb ?? 64) * MIB });
}

/**
 * Opens the gateway as configured: its providers (those `env` and GATEWAY_CONFIG describe, unless
 * given), its routes, cache and prices. A route no provider serves is GATEWAY_CONFIG's fault: a
 * ConfigError naming the file and the field.
 */
export async function openGateway(
  config: Config,
  {
    env,
    log,
    gatewayConfig,
    providers,
    metrics,
    tracer,
  }: {
    env: NodeJS.ProcessEnv;
    log: Logger;
    gatewayConfig?: GatewayConfig;
    providers?: Provider[];
    metrics?: GatewayMetrics & ProviderMetrics;
    tracer?: GatewayTracer;
  },
): Promise<Gateway> {
  const registry = new ProviderRegistry(providers ?? createProviders(config, env, log, gatewayConfig, metrics));
  try {
    return await createGateway(config, {
      log,
      registry,
      routing: gatewayConfig && routingSettings(gatewayConfig),
      cache: responseCache(config, gatewayConfig),
      metrics,
      tracer,
    });
  } catch (err) {
    if (err instanceof RouteConfigError) throw new ConfigError(`GATEWAY_CONFIG ${config.gatewayConfigFile}: ${err.message}`);
    throw err;
  }
}
