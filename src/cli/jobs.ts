import type { Queue } from 'bullmq';
import { loadConfig } from '../config/config.js';
import { createAssessQueue } from '../jobs/assess-queue.js';
import { createEventsQueue } from '../jobs/events-queue.js';
import { type FailedJobRow, listFailedJobs, retryAllFailed, retryFailedJobs } from '../jobs/failed-jobs.js';
import { createIntakeQueue } from '../jobs/intake-queue.js';
import { producerConnection, ready } from '../jobs/redis-connection.js';
import { createValidateQueue } from '../jobs/validate-queue.js';
import { intOption, parse, UsageError } from './args.js';
import type { CliIo } from './backfill.js';

export const JOBS_USAGE = `fhir-assess jobs failed [--queue NAME] [--limit N]    failed jobs (id, queue, patient ref, reason, attempts, time)
  fhir-assess jobs retry (ID... | --all) [--queue NAME]   move failed jobs back to waiting`;

/**
 * `fhir-assess jobs failed | retry`: inspect and retry failed jobs of the events, assess and intake
 * queues. Job data holds references only, so the table shows no PHI.
 */
export async function jobsCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  io: CliIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'failed' && sub !== 'retry') throw new UsageError(`jobs needs 'failed' or 'retry'\n${JOBS_USAGE}`);
  const { values, positionals } = parse(
    rest,
    { queue: { type: 'string' }, limit: { type: 'string' }, all: { type: 'boolean' } },
    sub === 'retry',
  );
  const cfg = loadConfig(env);
  const redis = producerConnection(cfg.REDIS_URL);
  const all = [
    createEventsQueue(redis, cfg.QUEUE_PREFIX),
    createAssessQueue(redis, cfg.QUEUE_PREFIX),
    createIntakeQueue(redis, cfg.QUEUE_PREFIX),
    createValidateQueue(redis, cfg.QUEUE_PREFIX),
  ];
  try {
    const queues = pickQueues(all, values.queue as string | undefined);
    await ready(redis);
    if (sub === 'failed') {
      const rows = await listFailedJobs(queues, intOption(values.limit as string | undefined, 'limit', 50));
      io.out.write(rows.length ? `${failedTable(rows)}\n` : 'no failed jobs\n');
      return 0;
    }
    if (values.all === true) {
      if (positionals.length) throw new UsageError('jobs retry takes job ids or --all, not both');
      const counts = await retryAllFailed(queues);
      io.out.write(
        `${Object.entries(counts)
          .map(([q, n]) => `${q}: ${n} retried`)
          .join(', ')}\n`,
      );
      return 0;
    }
    if (!positionals.length) throw new UsageError('jobs retry needs job ids (as listed by jobs failed) or --all');
    const result = await retryFailedJobs(queues, positionals);
    for (const r of result.retried) io.out.write(`retried ${r.queue}/${r.id}\n`);
    for (const id of result.notFound) io.err.write(`not a failed job: ${id}\n`);
    return result.notFound.length ? 1 : 0;
  } finally {
    for (const q of all) await q.close();
    redis.disconnect();
  }
}

function pickQueues(all: Queue[], name: string | undefined): Queue[] {
  if (name === undefined) return all;
  const q = all.filter((x) => x.name === name);
  if (!q.length) throw new UsageError(`--queue must be one of ${all.map((x) => x.name).join(', ')}, got '${name}'`);
  return q;
}

/** Fixed-width table: id, queue, patient ref, reason, attempts, time. */
export function failedTable(rows: FailedJobRow[]): string {
  const head = ['id', 'queue', 'patient ref', 'reason', 'attempts', 'failed at'];
  const cells = rows.map((r) => [r.id, r.queue, r.ref, r.reason, String(r.attempts), r.failedAt]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const fmt = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...cells.map(fmt)].join('\n');
}
