import { buildApp } from './http/app.js';
import { createLogger } from './http/logger.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { StartupError } from './core/errors.js';
import { type GatewayConfig, routingSettings } from './gateway-config.js';
import { PrometheusMetrics } from './metrics/prometheus.js';
import { openGateway, readGatewayConfig } from './start.js';
import { tracesWanted } from './telemetry/wanted.js';
import { type SocketServer, startSocketServer } from './unix-socket/server.js';
import { prepareWebhooks } from './webhooks/webhooks.js';

/** Exits 2 with the message of a bad configuration (naming the variable, or the file and the field). */
function exitOnConfigError(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`claude-cli-gateway: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

function configure(): { config: Config; gatewayConfig?: GatewayConfig } {
  try {
    const config = loadConfig();
    return { config, gatewayConfig: readGatewayConfig(config, process.env) };
  } catch (err) {
    exitOnConfigError(err);
  }
}

async function main(): Promise<void> {
  const { config, gatewayConfig } = configure();
  const log = createLogger(config.logLevel, config.logFormat);
  const metrics = new PrometheusMetrics();
  // Checked (WEBHOOK_SECRET, the observer modules) before anything opens.
  const webhooks = await prepareWebhooks(config, gatewayConfig, log, { metrics }).catch(exitOnConfigError);
  // Traces only when asked for (OTEL_EXPORTER_OTLP_ENDPOINT): off, OpenTelemetry is not even loaded.
  const tracing = tracesWanted(process.env) ? new (await import('./telemetry/otel.js')).OtelTracing(process.env) : undefined;
  const gateway = await openGateway(config, { env: process.env, log, gatewayConfig, metrics, tracer: tracing }).catch(exitOnConfigError);
  await webhooks.start(gateway).catch(async (err: unknown) => {
    await gateway.shutdown(0);
    throw err;
  });
  const app = await buildApp(config, gateway, { log, configKeys: gatewayConfig?.keys, metrics, tracing });
  if (!app.keyRing.enabled && !['127.0.0.1', 'localhost', '::1'].includes(config.host)) {
    app.log.warn(
      { host: config.host },
      'listening beyond loopback WITHOUT GATEWAY_API_KEYS: anyone who can reach this port can run Claude on this machine',
    );
  }
  let closing = false;
  let socket: SocketServer | undefined;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // The Unix socket first (its sync SPAWNs are cancelled, as when their clients leave), then the
    // gateway: while it drains, the HTTP front door still answers (503 to new work).
    Promise.resolve(socket?.close())
      .then(() => gateway.shutdown(config.shutdownGraceMs))
      // Its last events included; what cannot be posted within the grace is posted after the next start.
      .then(() => webhooks.close(config.shutdownGraceMs))
      .then(() => app.close())
      // The last spans go out.
      .then(() => tracing?.close())
      .then(
        () => process.exit(0),
        (err) => {
          app.log.error({ err }, 'error while shutting down');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // GATEWAY_CONFIG (its routes, retries, cooldowns, prices and keys) and the key file are read
  // again; anything wrong keeps what was in force. Providers and the cache stay as started.
  let routing = gatewayConfig && routingSettings(gatewayConfig);
  process.on('SIGHUP', () => {
    try {
      const reloaded = readGatewayConfig(config, process.env);
      const next = reloaded && routingSettings(reloaded);
      try {
        if (next) gateway.reconfigure(next);
      } catch (err) {
        // A route to a provider declared since start: providers are made at start only.
        throw new Error(`GATEWAY_CONFIG ${config.gatewayConfigFile}: ${err instanceof Error ? err.message : String(err)} (providers are not reloaded: restart for new ones)`);
      }
      try {
        app.log.info({ keys: app.keyRing.reload(reloaded?.keys) }, 'configuration and API keys reloaded');
      } catch (err) {
        // All or nothing: the routes go back to what they were with the keys.
        if (next && routing) gateway.reconfigure(routing);
        throw err;
      }
      routing = next ?? routing;
      webhooks.reconfigure(reloaded);
    } catch (err) {
      app.log.error({ err: err instanceof Error ? err.message : String(err) }, 'the configuration could not be reloaded: the previous keys stay in force, and so do the routes');
    }
  });
  await app.listen({ host: config.host, port: config.port });
  // What would fail the first request (no credentials), said once at start, and on /ready.
  gateway.ready().then(
    (providers) => {
      for (const warning of Object.values(providers).flatMap((p) => p.warnings ?? [])) log.warn(warning);
    },
    () => undefined, // an unusable provider is /ready's 503, and each request's
  );
  if (config.socketPath) {
    // The keys are the HTTP front door's (app.keyRing), so a reload applies to both.
    socket = await startSocketServer(gateway, {
      path: config.socketPath,
      lineLimit: config.bodyLimitBytes,
      allowedTools: config.allowedTools,
      keys: app.keyRing,
      log,
      metrics,
    });
    // A signal while it was starting found no socket to close.
    if (closing) void socket.close();
  }
}

main().catch((err) => {
  // A StartupError already says what is wrong and where (`LOG_DIR /x is not writable: EROFS …`).
  const what = err instanceof StartupError ? err.message : `failed to start: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(`claude-cli-gateway: ${what}\n`);
  process.exit(1);
});
