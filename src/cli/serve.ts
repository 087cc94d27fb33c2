import { loadConfig } from '../config/config.js';
import { loadFhirDefinitions } from '../fhir/definitions.js';
import { buildModelRegistry } from '../models/registry.js';
import { startTracing } from '../observability/tracing.js';
import { startService } from '../service.js';
import { createLogger } from '../util/logger.js';
import { databaseFor, NO_DATABASE } from './database-for-cli.js';

/** `serve | worker | all`: runs until SIGTERM/SIGINT, then shuts down gracefully. */
export async function serveCommand(role: 'serve' | 'worker' | 'all'): Promise<number> {
  let cfg = loadConfig();
  // Before anything creates a queue or a worker: they take BullMQ's telemetry at construction.
  const tracing = startTracing(cfg, { role });
  const logger = createLogger(cfg.LOG_LEVEL);
  if (!cfg.DATABASE_URL) {
    // `all` (one process, development) uses the local PostgreSQL when it answers; serve/worker need DATABASE_URL.
    const found = role === 'all' ? await databaseFor(process.env) : undefined;
    if (found) cfg = { ...cfg, DATABASE_URL: found.url };
    if (found) logger.info(`audit trail and model registry: ${found.how}`);
    else
      logger.warn(
        role === 'all' ? NO_DATABASE : 'DATABASE_URL is unset: running WITHOUT the audit trail and model registry',
      );
  }
  loadFhirDefinitions();
  // The models of MODELS_FILE (default: the embedded library, every calculator), each with its mode.
  const models = buildModelRegistry(cfg);
  const service = await startService(cfg, { http: role !== 'worker', workers: role !== 'serve' }, logger, models);
  logger.info({ role, url: service.url, fhirBase: cfg.FHIR_BASE_URL }, 'fhir-assess started');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down: HTTP, then workers (finishing in-flight jobs), then queues, then Redis');
  const force = setTimeout(() => process.exit(1), 30_000).unref();
  await service.close();
  await tracing.shutdown(); // flushes the last spans
  clearTimeout(force);
  return 0;
}
