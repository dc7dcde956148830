import { ProviderRegistry } from '../providers/registry.js';
import { buildApp } from './http/app.js';
import { createLogger } from './http/logger.js';
import { ConfigError, loadConfig } from './config.js';
import { StartupError } from './core/errors.js';
import { createGateway } from './gateway.js';
import { createProviders } from './providers.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`claude-cli-gateway: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const gateway = await createGateway(config, { log, registry: new ProviderRegistry(createProviders(config, process.env, log)) });
  const app = await buildApp(config, gateway, { log });
  if (!app.keyRing.enabled && !['127.0.0.1', 'localhost', '::1'].includes(config.host)) {
    app.log.warn(
      { host: config.host },
      'listening beyond loopback WITHOUT GATEWAY_API_KEYS: anyone who can reach this port can run Claude on this machine',
    );
  }
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // The gateway first: while it drains, the front door still answers (503 to new work).
    gateway
      .shutdown(config.shutdownGraceMs)
      .then(() => app.close())
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
  process.on('SIGHUP', () => {
    try {
      app.log.info({ keys: app.keyRing.reload() }, 'API keys reloaded');
    } catch (err) {
      app.log.error({ err }, 'API key file could not be read: the previous keys stay in force');
    }
  });
  await app.listen({ host: config.host, port: config.port });
}

main().catch((err) => {
  // A StartupError already says what is wrong and where (`LOG_DIR /x is not writable: EROFS …`).
  const what = err instanceof StartupError ? err.message : `failed to start: ${err instanceof Error ? err.message : String(err)}`;
  process.stderr.write(`claude-cli-gateway: ${what}\n`);
  process.exit(1);
});
