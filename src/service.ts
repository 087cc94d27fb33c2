import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createApiServices } from './api/api-services.js';
import { buildApp } from './api/app.js';
import { asOfDate, type Config } from './config/config.js';
import type { Database } from './db/database.js';
import { openMigratedDatabase } from './db/open-migrated.js';
import { SourceRegistry } from './fhir/source-client.js';
import { type Governance, startGovernance } from './governance/governance.js';
import { ehrReviews } from './governance/reviews/ehr-review.js';
import { notDelivering, type SourceSubscriptionStates, SubscriptionStates } from './intake/subscription-states.js';
import { type AssessQueue, createAssessQueue } from './jobs/assess-queue.js';
import { createEventsQueue, type EventsQueue } from './jobs/events-queue.js';
import { type RunningIntake, startIntake } from './jobs/intake-jobs.js';
import { withModelRateLimit } from './jobs/model-rate-limit.js';
import { RateLimiter } from './jobs/rate-limiter.js';
import type { RedisClient } from './jobs/redis-connection.js';
import { producerConnection, ready } from './jobs/redis-connection.js';
import { createValidateQueue, type ValidateQueue } from './jobs/validate-queue.js';
import { type RunningWorkers, startWorkers } from './jobs/workers.js';
import type { Model } from './models/model.js';
import type { RegisteredModel } from './models/registry.js';
import { type Monitoring, startMonitoring } from './monitoring/monitoring.js';
import { instrumentEhrClient } from './observability/ehr-metrics.js';
import { startHealthServer } from './observability/health-server.js';
import { ValidationReportStore } from './validation/report-store.js';
import { configuredModels } from './validation/validation-spec.js';
import { SERVICE_VERSION } from './version.js';

export interface ServiceRoles {
  http: boolean;
  workers: boolean;
}

export interface RunningService {
  /** Base URL the HTTP app listens on, when it serves HTTP. */
  url?: string;
  app?: FastifyInstance;
  eventsQueue: EventsQueue;
  assessQueue: AssessQueue;
  /** `$validate-model` runs. */
  validateQueue: ValidateQueue;
  workers?: RunningWorkers;
  redis: RedisClient;
  /** PostgreSQL for durable records, when DATABASE_URL is set (schema migrated at start-up). */
  db?: Database;
  /** The model registry and audit trail as the workers use them (workers role with a database). */
  governance?: Governance;
  sources: SourceRegistry;
  /** Subscriptions, polling, reconciliation and the watchdog (their schedulers and dependencies). */
  intake: RunningIntake;
  /** Output monitoring and drift against validation baselines. */
  monitoring: Monitoring;
  /** The models with their modes, as configured. */
  registered: readonly RegisteredModel[];
  /** Graceful shutdown: HTTP first, then workers (finishing in-flight jobs), then queues, then Redis. */
  close(): Promise<void>;
}

/** Wires config, Redis, queues, the EHR clients, the HTTP app and/or the workers into one process. */
export async function startService(
  cfg: Config,
  roles: ServiceRoles,
  logger: Logger,
  /** Models with their modes (buildModelRegistry); a bare Model runs in MODEL_MODE. */
  entries: readonly (Model | RegisteredModel)[],
): Promise<RunningService> {
  const registered = entries.map((e): RegisteredModel => ('model' in e ? e : { model: e, mode: cfg.MODEL_MODE }));
  const models = registered.map((r) => r.model);
  const redis = producerConnection(cfg.REDIS_URL);
  await ready(redis);
  const db = cfg.DATABASE_URL ? await openMigratedDatabase(cfg.DATABASE_URL, logger) : undefined;
  const prefix = cfg.QUEUE_PREFIX;
  const eventsQueue = createEventsQueue(redis, prefix);
  const assessQueue = createAssessQueue(redis, prefix);
  const validateQueue = createValidateQueue(redis, prefix);
  // Validation runs the models as configured (MODELS_FILE / MODELS), exactly as `fhir-assess validate` does.
  const validatable = configuredModels(cfg);
  const reports = db ? new ValidationReportStore(db) : undefined;
  const sources = new SourceRegistry(cfg.sources);
  for (const { source, client } of sources.all()) instrumentEhrClient(client, source.name); // EHR requests by status
  const limiter = new RateLimiter(redis, prefix);
  const modelLimit = { rate: cfg.MODEL_RATE_LIMIT, burst: Math.max(1, Math.ceil(cfg.MODEL_RATE_LIMIT)) };
  const limitedModels = models.map((m) => withModelRateLimit(m, limiter, modelLimit));
  // CapabilityStatement discovery (and the first token) per EHR, in the background so an EHR that is
  // down does not hold up start-up; it is asked again on first use.
  void sources.discover().then((found) => {
    for (const [name, caps] of found) {
      if (caps instanceof Error)
        logger.warn({ source: name, err: caps.message }, 'EHR discovery failed; retried on first use');
      else
        logger.info(
          { source: name, fhirVersion: caps.fhirVersion, everything: caps.everything, batch: caps.batch },
          'EHR capabilities',
        );
    }
  });
  for (const warning of cfg.warnings) logger.warn(`configuration: ${warning}`); // src/config/source-checks.ts
  const watchedTypes = [...new Set(models.flatMap((m) => m.requires.resourceTypes))];
  const monitoring = startMonitoring(
    cfg,
    { redis, db, logger, models: models.map((m) => ({ id: m.id, version: m.version })) },
    roles,
  );
  for (const { source } of sources.all()) {
    // The first "something changed" ping catches up from when the service first started, not from the
    // beginning of the EHR's history. NX: restarts and other replicas keep the existing watermark.
    await redis.set(`${prefix}:watermark:${source.name}`, new Date().toISOString(), 'NX');
  }

  let workers: RunningWorkers | undefined;
  const governance =
    db && roles.workers
      ? await startGovernance(db, {
          redisUrl: cfg.REDIS_URL,
          prefix,
          logger,
          versions: registered.map((r) => ({ modelId: r.model.id, version: r.model.version, mode: r.mode })),
          retentionDays: cfg.AUDIT_RETENTION_DAYS,
        })
      : undefined;
  if (roles.workers) {
    workers = startWorkers({
      redisUrl: cfg.REDIS_URL,
      prefix,
      eventsConcurrency: cfg.EVENTS_CONCURRENCY,
      assessConcurrency: cfg.ASSESS_CONCURRENCY,
      logger,
      stall: { lockDuration: cfg.JOB_LOCK_MS, stalledInterval: cfg.JOB_LOCK_MS },
      limits: {
        limiter,
        ehr: { rate: cfg.EHR_RATE_LIMIT, burst: cfg.EHR_RATE_BURST ?? Math.max(1, Math.ceil(cfg.EHR_RATE_LIMIT * 2)) },
      },
      events: {
        sources,
        redis,
        assessQueue,
        coalesceWindowMs: cfg.COALESCE_WINDOW_MS,
        coalesceMode: cfg.COALESCE_MODE,
        watchedTypes,
        pollOverlapMs: cfg.POLL_OVERLAP_MS,
        keyPrefix: prefix,
        logger,
        gapGraceMs: cfg.GAP_GRACE_MS,
        reviews: db ? ehrReviews({ db, sources, serviceVersion: SERVICE_VERSION, logger }) : undefined,
      },
      assess: {
        sources,
        redis,
        models: limitedModels,
        mode: cfg.MODEL_MODE,
        modes: Object.fromEntries(registered.map((r) => [r.model.id, r.mode])),
        asOf: () => asOfDate(cfg),
        keyPrefix: prefix,
        serviceVersion: SERVICE_VERSION,
        logger,
        deidentifySecret: cfg.DEIDENTIFY_SECRET,
        shadowRetentionDays: cfg.SHADOW_RETENTION_DAYS,
        monitor: monitoring.outputs,
        governance,
      },
      validation: {
        sources,
        configured: validatable,
        store: reports,
        workDir: cfg.VALIDATION_WORK_DIR,
        ratePerSecond: cfg.VALIDATION_RATE,
        concurrency: cfg.VALIDATION_CONCURRENCY,
        deidentifySecret: cfg.DEIDENTIFY_SECRET,
        logger,
      },
    });
  }

  let app: FastifyInstance | undefined;
  let url: string | undefined;
  const api = roles.http
    ? await createApiServices(cfg, {
        redis,
        sources,
        assessQueue,
        eventsQueue,
        validateQueue,
        validatable,
        modelIds: models.map((m) => m.id),
        registered,
        db,
        drift: monitoring.drift,
      })
    : undefined;
  if (roles.http) {
    app = await buildApp({
      api: api?.deps,
      logger,
      bodyLimit: cfg.NOTIFY_BODY_LIMIT,
      sources,
      eventsQueue,
      redis,
      keyPrefix: prefix,
      gapGraceMs: cfg.GAP_GRACE_MS,
      ready: async () => {
        const checks: Record<string, string> = {};
        checks.redis = await redis.ping().then(
          () => 'ok',
          (e: Error) => e.message,
        );
        // Probes run often: ask each EHR for the summary form of its CapabilityStatement, all at once.
        await Promise.all(
          sources.all().map(async ({ source, client }) => {
            checks[`ehr:${source.name}`] = await client.get('metadata', { _summary: 'true' }).then(
              () => 'ok',
              (e: Error) => e.message,
            );
          }),
        );
        const subscriptions = await managedSubscriptionStates(cfg, redis);
        const ok = Object.values(checks).every((v) => v === 'ok');
        // A managed Subscription that does not deliver degrades readiness but does not fail it: taking
        // this process out of the load balancer would also stop the handshake that could repair it.
        const degraded = Object.entries(subscriptions)
          .filter(([, s]) => notDelivering(s))
          .map(([name]) => `subscriptions:${name}`);
        return {
          ok,
          status: !ok ? 'not ready' : degraded.length ? 'degraded' : 'ready',
          checks,
          degraded,
          subscriptions,
        };
      },
    });
    url = await app.listen({ host: cfg.HOST, port: cfg.PORT });
  }
  // A worker-only process has no HTTP API: probes get their own tiny server when HEALTH_PORT asks for it.
  const health =
    !roles.http && cfg.HEALTH_PORT !== undefined
      ? await startHealthServer(cfg.HOST, cfg.HEALTH_PORT, async () => ({
          redis: await redis.ping().then(
            () => 'ok',
            (e: Error) => e.message,
          ),
        }))
      : undefined;
  // Subscriptions (after listen: the handshake must find us), polling/reconciliation/watchdog schedulers.
  const intake: RunningIntake = await startIntake({ cfg, roles, sources, redis, assessQueue, watchedTypes, logger });

  return {
    url: url ?? health?.url,
    app,
    eventsQueue,
    assessQueue,
    validateQueue,
    workers,
    redis,
    db,
    governance,
    sources,
    intake,
    monitoring,
    registered,
    close: async () => {
      monitoring.close();
      await app?.close();
      await health?.close();
      await api?.close();
      await workers?.close();
      await intake.close();
      await governance?.close();
      await eventsQueue.close();
      await assessQueue.close();
      await validateQueue.close();
      redis.disconnect();
      await db?.end();
    },
  };
}

/** What start-up or the watchdog last read of each managed source's Subscriptions (one Redis read each). */
async function managedSubscriptionStates(
  cfg: Config,
  redis: RedisClient,
): Promise<Record<string, SourceSubscriptionStates | undefined>> {
  const states = new SubscriptionStates(redis, cfg.QUEUE_PREFIX);
  const managed = cfg.sources.filter((s) => s.subscription.manage && s.intake.mode === 'push');
  const entries = await Promise.all(
    managed.map(async (s) => [s.name, await states.get(s.name).catch(() => undefined)] as const),
  );
  return Object.fromEntries(entries);
}
