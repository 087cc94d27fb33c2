import { QueueEvents } from 'bullmq';
import { asOfDate, type Config } from '../config/config.js';
import { ConfiguredModelHistory } from '../console/model-history.js';
import type { Database } from '../db/database.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import { RegistryModelHistory } from '../governance/registry-history.js';
import type { AssessQueue } from '../jobs/assess-queue.js';
import { AssessRequests } from '../jobs/assess-requests.js';
import type { EventsQueue } from '../jobs/events-queue.js';
import { createIntakeQueue } from '../jobs/intake-queue.js';
import { ASSESS_QUEUE } from '../jobs/queue-names.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import { workerConnection } from '../jobs/redis-connection.js';
import type { ValidateQueue } from '../jobs/validate-queue.js';
import type { RegisteredModel } from '../models/registry.js';
import type { DriftMonitor } from '../monitoring/drift.js';
import { registerQueueMetrics } from '../observability/queue-metrics.js';
import { registerReviewMetrics } from '../observability/review-metrics.js';
import { ValidationReportStore } from '../validation/report-store.js';
import type { ConfiguredModel } from '../validation/validation-spec.js';
import { SERVICE_VERSION } from '../version.js';
import type { ApiDeps } from './api-deps.js';
import { ApiAuthenticator } from './auth.js';
import { feedbackKeys } from './cds-feedback.js';

/** The API's dependencies plus what must be closed on shutdown (after HTTP, before the queues). */
export interface ApiServices {
  deps: ApiDeps;
  close(): Promise<void>;
}

/** Builds the API dependencies from the configuration and the already-open queues. */
export async function createApiServices(
  cfg: Config,
  shared: {
    redis: RedisClient;
    sources: SourceRegistry;
    assessQueue: AssessQueue;
    eventsQueue: EventsQueue;
    validateQueue: ValidateQueue;
    /** The configured models `$validate-model` may validate. */
    validatable: readonly ConfiguredModel[];
    modelIds: string[];
    /** For the operator console: the models with their modes, the database and drift, when present. */
    registered?: readonly RegisteredModel[];
    db?: Database;
    drift?: DriftMonitor;
  },
): Promise<ApiServices> {
  // QueueEvents blocks on XREAD: it needs a connection of its own, retrying forever like a worker's.
  const assessEvents = new QueueEvents(ASSESS_QUEUE, {
    connection: workerConnection(cfg.REDIS_URL),
    prefix: cfg.QUEUE_PREFIX,
  });
  assessEvents.on('error', () => {});
  await assessEvents.waitUntilReady();
  // The intake maintenance queue is owned by the intake scheduler; a handle of our own shows it too.
  const intakeQueue = createIntakeQueue(shared.redis, cfg.QUEUE_PREFIX);
  const queues = [shared.eventsQueue, shared.assessQueue, intakeQueue, shared.validateQueue];
  registerQueueMetrics(queues, shared.redis, feedbackKeys(cfg.QUEUE_PREFIX).counts);
  registerReviewMetrics(shared.sources);
  const reports = shared.db ? new ValidationReportStore(shared.db) : undefined;
  const deps: ApiDeps = {
    sources: shared.sources,
    assessQueue: shared.assessQueue,
    queues,
    assessEvents,
    requests: new AssessRequests(shared.redis, cfg.QUEUE_PREFIX),
    auth: new ApiAuthenticator({
      jwksUrl: cfg.API_JWKS_URL,
      issuer: cfg.API_ISSUER,
      audience: cfg.API_AUDIENCE,
      apiKeys: cfg.API_KEYS,
    }),
    cdsAuth: cfg.CDS_JWKS_URL
      ? new ApiAuthenticator({ jwksUrl: cfg.CDS_JWKS_URL, issuer: cfg.CDS_ISSUER, apiKeys: cfg.API_KEYS })
      : undefined,
    redis: shared.redis,
    keyPrefix: cfg.QUEUE_PREFIX,
    modelIds: shared.modelIds,
    syncTimeoutMs: cfg.ASSESS_SYNC_TIMEOUT_MS,
    publicUrl: cfg.PUBLIC_URL,
    dashboard: { user: cfg.ADMIN_USER, password: cfg.ADMIN_PASSWORD },
    console: shared.registered
      ? {
          sources: shared.sources,
          queues,
          redis: shared.redis,
          keyPrefix: cfg.QUEUE_PREFIX,
          registered: shared.registered,
          // The model registry's recorded promotions and recalls when there is a database, else the configuration.
          history: shared.db ? new RegistryModelHistory(shared.db) : new ConfiguredModelHistory(shared.registered),
          reports,
          drift: shared.drift,
          driftThreshold: cfg.DRIFT_PSI_THRESHOLD,
          driftWindowDays: cfg.DRIFT_WINDOW_DAYS,
          shadowRetentionDays: cfg.SHADOW_RETENTION_DAYS,
          asOf: () => asOfDate(cfg),
          deidentifySecret: cfg.DEIDENTIFY_SECRET,
          managedSources: cfg.sources
            .filter((s) => s.subscription.manage && s.intake.mode === 'push')
            .map((s) => s.name),
        }
      : undefined,
    db: shared.db,
    serviceVersion: SERVICE_VERSION,
    validation: {
      queue: shared.validateQueue,
      requests: new AssessRequests(shared.redis, cfg.QUEUE_PREFIX, 'validate-request'),
      configured: shared.validatable,
      store: reports,
    },
  };
  return {
    deps,
    close: async () => {
      await assessEvents.close();
      await intakeQueue.close();
    },
  };
}
