import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import { asOfDate, type Config } from './config/config.js';
import { SourceRegistry } from './fhir/source-client.js';
import { ensureSubscription } from './intake/ensure-subscription.js';
import { type AssessQueue, createAssessQueue } from './jobs/assess-queue.js';
import { createEventsQueue, type EventsQueue } from './jobs/events-queue.js';
import { producerConnection, ready } from './jobs/redis-connection.js';
import { type RunningWorkers, startWorkers } from './jobs/workers.js';
import type { Model } from './models/model.js';
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
  workers?: RunningWorkers;
  redis: Redis;
  sources: SourceRegistry;
  /** Graceful shutdown: HTTP first, then workers (finishing in-flight jobs), then queues, then Redis. */
  close(): Promise<void>;
}

/** Wires config, Redis, queues, the EHR clients, the HTTP app and/or the workers into one process. */
export async function startService(
  cfg: Config,
  roles: ServiceRoles,
  logger: Logger,
  models: Model[],
): Promise<RunningService> {
  const redis = producerConnection(cfg.REDIS_URL);
  await ready(redis);
  const prefix = cfg.QUEUE_PREFIX;
  const eventsQueue = createEventsQueue(redis, prefix);
  const assessQueue = createAssessQueue(redis, prefix);
  const sources = new SourceRegistry(cfg.sources);
  for (const { source } of sources.all()) {
    if (!source.notify.bearerSecrets.length && !source.notify.hmacSecrets.length) {
      logger.warn(
        { source: source.name },
        'no NOTIFY_SECRET: notifications from this EHR are accepted unauthenticated',
      );
    }
  }
  const watchedTypes = [...new Set(models.flatMap((m) => m.requires.resourceTypes))];
  for (const { source } of sources.all()) {
    // The first "something changed" ping catches up from when the service first started, not from the
    // beginning of the EHR's history. NX: restarts and other replicas keep the existing watermark.
    await redis.set(`${prefix}:watermark:${source.name}`, new Date().toISOString(), 'NX');
  }

  let workers: RunningWorkers | undefined;
  if (roles.workers) {
    workers = startWorkers({
      redisUrl: cfg.REDIS_URL,
      prefix,
      eventsConcurrency: cfg.EVENTS_CONCURRENCY,
      assessConcurrency: cfg.ASSESS_CONCURRENCY,
      logger,
      events: {
        sources,
        redis,
        assessQueue,
        coalesceWindowMs: cfg.COALESCE_WINDOW_MS,
        watchedTypes,
        pollOverlapMs: cfg.POLL_OVERLAP_MS,
        keyPrefix: prefix,
        logger,
      },
      assess: {
        sources,
        redis,
        models,
        mode: cfg.MODEL_MODE,
        asOf: () => asOfDate(cfg),
        keyPrefix: prefix,
        serviceVersion: SERVICE_VERSION,
        logger,
      },
    });
  }

  let app: FastifyInstance | undefined;
  let url: string | undefined;
  if (roles.http) {
    app = await buildApp({
      logger,
      bodyLimit: cfg.NOTIFY_BODY_LIMIT,
      sources,
      eventsQueue,
      redis,
      keyPrefix: prefix,
      ready: async () => {
        const checks: Record<string, string> = {};
        checks.redis = await redis.ping().then(
          () => 'ok',
          (e: Error) => e.message,
        );
        for (const { source, client } of sources.all()) {
          checks[`ehr:${source.name}`] = await client.get('metadata').then(
            () => 'ok',
            (e: Error) => e.message,
          );
        }
        return { ok: Object.values(checks).every((v) => v === 'ok'), checks };
      },
    });
    url = await app.listen({ host: cfg.HOST, port: cfg.PORT });
    for (const { source, client } of sources.all()) {
      if (!source.subscription.manage || !cfg.PUBLIC_URL) continue;
      const r = await ensureSubscription(
        client,
        `${cfg.PUBLIC_URL.replace(/\/$/, '')}/notify`,
        source.notify.bearerSecrets[0],
        {
          kind: 'backport',
          content: source.subscription.content,
          heartbeatSeconds: source.subscription.heartbeatSeconds,
        },
      );
      logger.info({ source: source.name, subscription: r.subscription.id, action: r.action }, 'subscription ensured');
    }
  }

  return {
    url,
    app,
    eventsQueue,
    assessQueue,
    workers,
    redis,
    sources,
    close: async () => {
      await app?.close();
      await workers?.close();
      await eventsQueue.close();
      await assessQueue.close();
      redis.disconnect();
    },
  };
}
