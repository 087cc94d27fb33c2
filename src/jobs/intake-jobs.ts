import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Source } from '../config/sources.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import { ensureSourceSubscriptions } from '../intake/ensure-subscriptions.js';
import type { AssessQueue } from './assess-queue.js';
import { createIntakeQueue, type IntakeJob, type IntakeQueue } from './intake-queue.js';
import type { IntakeDeps } from './intake-watchdog.js';
import { startIntakeWorker } from './intake-worker.js';

/** The watchdog runs at least this often (ms): it also re-schedules lost gap recoveries. */
const WATCHDOG_MAX_EVERY_MS = 60_000;

export interface IntakeStartInput {
  cfg: Config;
  roles: { http: boolean; workers: boolean };
  sources: SourceRegistry;
  redis: Redis;
  assessQueue: AssessQueue;
  watchedTypes: string[];
  logger: Logger;
}

export interface RunningIntake {
  queue: IntakeQueue;
  worker?: Worker<IntakeJob>;
  deps: IntakeDeps;
  close(): Promise<void>;
}

/**
 * Everything intake does besides answering notifications, started once per process: the Subscriptions
 * on each EHR (HTTP role, after listen, so the handshake finds us), the job schedulers (polling for
 * `poll` sources, reconciliation, the heartbeat/gap watchdog for `push` sources) and, in worker
 * processes, the worker that runs them.
 */
export async function startIntake(input: IntakeStartInput): Promise<RunningIntake> {
  const { cfg, sources, logger } = input;
  const queue = createIntakeQueue(input.redis, cfg.QUEUE_PREFIX);
  const endpoint = cfg.PUBLIC_URL ? `${cfg.PUBLIC_URL.replace(/\/$/, '')}/notify` : undefined;
  const repair = async (name: string) => {
    const { source, client } = sources.get(name);
    if (!source.subscription.manage || !endpoint) return;
    const ensure = {
      client,
      source,
      endpoint,
      watchedTypes: input.watchedTypes,
      redis: input.redis,
      prefix: cfg.QUEUE_PREFIX,
    };
    const r = await ensureSourceSubscriptions(ensure);
    for (const s of r.subscriptions)
      logger.info(
        { source: name, kind: r.kind, subscription: s.id, criteria: s.criteria, action: s.action },
        'subscription ensured',
      );
  };
  const deps: IntakeDeps = {
    sources,
    redis: input.redis,
    assessQueue: input.assessQueue,
    coalesceWindowMs: cfg.COALESCE_WINDOW_MS,
    watchedTypes: input.watchedTypes,
    pollOverlapMs: cfg.POLL_OVERLAP_MS,
    keyPrefix: cfg.QUEUE_PREFIX,
    logger,
    intakeQueue: queue,
    gapGraceMs: cfg.GAP_GRACE_MS,
    repairSubscriptions: repair,
  };
  for (const { source } of sources.all()) await syncSchedulers(queue, source);
  if (input.roles.http) for (const { source } of sources.all()) await repair(source.name);
  const worker = input.roles.workers
    ? startIntakeWorker(deps, { redisUrl: cfg.REDIS_URL, prefix: cfg.QUEUE_PREFIX, lockDurationMs: cfg.JOB_LOCK_MS })
    : undefined;
  return {
    queue,
    worker,
    deps,
    close: async () => {
      await worker?.close();
      await queue.close();
    },
  };
}

/**
 * Creates, updates or removes a source's repeatable jobs to match its configuration (idempotent:
 * every replica may call it). Switching a source from poll to push removes its poll scheduler.
 */
export async function syncSchedulers(queue: IntakeQueue, source: Source): Promise<void> {
  const { name, intake, subscription } = source;
  const want = (on: boolean, id: string, every: number, data: IntakeJob) =>
    on ? queue.upsertJobScheduler(id, { every }, { name: data.kind, data }) : queue.removeJobScheduler(id);
  const push = intake.mode === 'push';
  const heartbeatMs = subscription.heartbeatSeconds ? subscription.heartbeatSeconds * 1000 : WATCHDOG_MAX_EVERY_MS;
  await want(!push, `poll-${name}`, intake.pollIntervalMs, { kind: 'poll', source: name });
  await want(push && intake.reconcile, `reconcile-${name}`, intake.pollIntervalMs, { kind: 'reconcile', source: name });
  await want(push, `watchdog-${name}`, Math.min(heartbeatMs, WATCHDOG_MAX_EVERY_MS), {
    kind: 'watchdog',
    source: name,
  });
}
