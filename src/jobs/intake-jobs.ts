import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Source } from '../config/sources.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import { type EnsuredSubscription, ensureSourceSubscriptions } from '../intake/ensure-subscriptions.js';
import { listOurSubscriptions, stateOf } from '../intake/our-subscriptions.js';
import { SubscriptionStates } from '../intake/subscription-states.js';
import type { AssessQueue } from './assess-queue.js';
import { createIntakeQueue, type IntakeJob, type IntakeQueue } from './intake-queue.js';
import type { IntakeDeps } from './intake-watchdog.js';
import { startIntakeWorker } from './intake-worker.js';
import type { RedisClient } from './redis-connection.js';

/** The watchdog runs at least this often (ms): it also re-schedules lost gap recoveries. */
const WATCHDOG_MAX_EVERY_MS = 60_000;

export interface IntakeStartInput {
  cfg: Config;
  roles: { http: boolean; workers: boolean };
  sources: SourceRegistry;
  redis: RedisClient;
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
  const manageable = (name: string) => {
    const entry = sources.get(name);
    return entry.source.subscription.manage && endpoint ? { ...entry, endpoint } : undefined;
  };
  const repair = async (name: string) => {
    const managed = manageable(name);
    if (!managed) return;
    const r = await ensureSourceSubscriptions({
      client: managed.client,
      source: managed.source,
      endpoint: managed.endpoint,
      watchedTypes: input.watchedTypes,
      redis: input.redis,
      prefix: cfg.QUEUE_PREFIX,
    });
    logEnsured(logger, name, r.kind, r.subscriptions);
  };
  // The watchdog's regular look at the managed Subscriptions: record what the EHR says (for /readyz)
  // and repair any that stopped delivering (error, off, deleted).
  const checkSubscriptions = async (name: string) => {
    const managed = manageable(name);
    if (!managed) return;
    const found = await listOurSubscriptions(managed.client, managed.endpoint);
    await new SubscriptionStates(input.redis, cfg.QUEUE_PREFIX).save(name, found.map(stateOf));
    const wanted = input.watchedTypes.length;
    if (found.length === 0 || found.some((s) => s.status !== 'active') || (found.length < wanted && isClassic(found))) {
      await repair(name);
    }
  };
  const deps: IntakeDeps = {
    sources,
    redis: input.redis,
    assessQueue: input.assessQueue,
    coalesceWindowMs: cfg.COALESCE_WINDOW_MS,
    coalesceMode: cfg.COALESCE_MODE,
    watchedTypes: input.watchedTypes,
    pollOverlapMs: cfg.POLL_OVERLAP_MS,
    keyPrefix: cfg.QUEUE_PREFIX,
    logger,
    intakeQueue: queue,
    gapGraceMs: cfg.GAP_GRACE_MS,
    repairSubscriptions: repair,
    checkSubscriptions,
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

/** Classic criteria Subscriptions come one per watched type; a Backport one covers them all. */
function isClassic(subs: { criteria?: string }[]): boolean {
  return subs.every((s) => !s.criteria?.startsWith('http'));
}

/**
 * One line per Subscription; a managed Subscription that is not active is an error with what to do,
 * because nothing it covers will be assessed until it delivers (reconciliation polls, on by default
 * with managed Subscriptions, still catch the changes, one poll interval late).
 */
function logEnsured(logger: Logger, source: string, kind: string, subs: EnsuredSubscription[]): void {
  for (const s of subs) {
    const fields = { source, kind, subscription: s.id, criteria: s.criteria, action: s.action, status: s.status };
    if (s.status === 'active') logger.info({ ...fields, activatedBy: s.activatedBy }, 'subscription ensured');
    else
      logger.error(
        { ...fields, error: s.error },
        'subscription is not active, so the EHR will not notify us: check that the EHR can reach PUBLIC_URL/notify and that our credentials may write Subscription, then run `fhir-assess subscriptions --repair`',
      );
  }
}
