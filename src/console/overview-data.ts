import { SubscriptionStates } from '../intake/subscription-states.js';
import { monitorKeys, utcDay } from '../monitoring/monitor-keys.js';
import type { ConsoleDeps } from './console-deps.js';

export interface OverviewData {
  days: string[];
  /** `model@version|mode` → assessments per day (aligned with `days`). */
  perDay: Record<string, number[]>;
  queues: {
    name: string;
    waiting: number;
    active: number;
    delayed: number;
    failed: number;
    completed: number;
    oldestWaitingS?: number;
  }[];
  ehr: { source: string; status: string; ms: number }[];
  subscriptions: { source: string; state: string }[];
}

/** The last `n` UTC days, oldest first. */
export function lastDays(n: number, now = new Date()): string[] {
  return Array.from({ length: n }, (_, i) => utcDay(new Date(now.getTime() - (n - 1 - i) * 86_400_000)));
}

async function assessmentsPerDay(deps: ConsoleDeps, days: string[]): Promise<Record<string, number[]>> {
  const keys = monitorKeys(deps.keyPrefix);
  const hashes = await Promise.all(days.map((d) => deps.redis.hgetall(keys.day(d))));
  const series: Record<string, number[]> = {};
  hashes.forEach((h, i) => {
    for (const [k, v] of Object.entries(h)) {
      series[k] ??= new Array<number>(days.length).fill(0);
      series[k][i] = Number(v);
    }
  });
  return series;
}

async function queueState(deps: ConsoleDeps): Promise<OverviewData['queues']> {
  return Promise.all(
    deps.queues.map(async (q) => {
      const c = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
      const [oldest] = await q.getJobs(['waiting', 'prioritized'], 0, 0, true);
      return {
        name: q.name,
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        failed: c.failed ?? 0,
        completed: c.completed ?? 0,
        oldestWaitingS: oldest ? Math.round((Date.now() - oldest.timestamp) / 1000) : undefined,
      };
    }),
  );
}

async function ehrHealth(deps: ConsoleDeps): Promise<OverviewData['ehr']> {
  return Promise.all(
    deps.sources.all().map(async ({ source, client }) => {
      const t0 = performance.now();
      const status = await client.get('metadata', { _summary: 'true' }).then(
        () => 'ok',
        (e: Error) => e.message,
      );
      return { source: source.name, status, ms: Math.round(performance.now() - t0) };
    }),
  );
}

async function subscriptions(deps: ConsoleDeps): Promise<OverviewData['subscriptions']> {
  const states = new SubscriptionStates(deps.redis, deps.keyPrefix);
  return Promise.all(
    deps.sources.all().map(async ({ source }) => {
      if (!deps.managedSources.includes(source.name))
        return {
          source: source.name,
          state: source.intake.mode === 'poll' ? 'polling (no Subscription)' : 'not managed by fhir-assess',
        };
      const s = await states.get(source.name).catch(() => undefined);
      if (!s) return { source: source.name, state: 'not checked yet' };
      const list = s.subscriptions.map(
        (x) => `Subscription/${x.id ?? '?'} ${x.status ?? 'unknown'}${x.error ? ` (${x.error})` : ''}`,
      );
      return { source: source.name, state: `${list.join('; ') || 'none on the EHR'} (checked ${s.checkedAt})` };
    }),
  );
}

/** Everything the Overview page shows, read now. */
export async function overviewData(deps: ConsoleDeps, dayCount = 14): Promise<OverviewData> {
  const days = lastDays(dayCount);
  const [perDay, queues, ehr, subs] = await Promise.all([
    assessmentsPerDay(deps, days),
    queueState(deps),
    ehrHealth(deps),
    subscriptions(deps),
  ]);
  return { days, perDay, queues, ehr, subscriptions: subs };
}
