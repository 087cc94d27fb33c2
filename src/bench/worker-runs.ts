import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type AssessQueue, createAssessQueue } from '../jobs/assess-queue.js';
import { producerConnection, type RedisClient } from '../jobs/redis-connection.js';
import { type CliProcess, spawnCli, waitForOutput } from './cli-process.js';

/** Worker RSS sampling period (ms). */
const SAMPLE_MS = 200;
/** Upper bound on one backfill run (ms): 20 min. */
const RUN_LIMIT_MS = 1_200_000;

/** `fhir-assess worker` in its own process on a fresh queue prefix, its RSS sampled from /proc. */
export interface BenchWorker {
  env: Record<string, string>;
  queue: AssessQueue;
  /** Highest RSS seen so far (MB). */
  rssPeakMb(): number;
  stop(): Promise<void>;
}

/**
 * Starts `fhir-assess worker` as a user does (EHR_RATE_LIMIT=0 so the EHR's read rate is the limit,
 * default log level) in `mode`, with ASSESS_CONCURRENCY when given.
 */
export async function startBenchWorker(
  base: string,
  redisUrl: string,
  opts: { mode: 'shadow' | 'preliminary'; concurrency?: number },
): Promise<BenchWorker> {
  const env: Record<string, string> = {
    FHIR_BASE_URL: base,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `bench-w-${opts.mode}-${randomBytes(4).toString('hex')}`,
    AS_OF: '2021-04-01',
    EHR_RATE_LIMIT: '0',
    MODEL_MODE: opts.mode,
    ...(opts.concurrency ? { ASSESS_CONCURRENCY: String(opts.concurrency) } : {}),
  };
  const worker: CliProcess = spawnCli(['worker'], env);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, worker.rssMb() ?? 0)), SAMPLE_MS);
  const redis: RedisClient = producerConnection(redisUrl);
  const queue = createAssessQueue(redis, env.QUEUE_PREFIX);
  const stop = async () => {
    clearInterval(sampler);
    await worker.stop();
    await queue.obliterate({ force: true }).catch(() => {});
    const keys = await redis.keys(`${env.QUEUE_PREFIX}:*`).catch(() => [] as string[]);
    if (keys.length) await redis.del(...keys).catch(() => {});
    await queue.close();
    redis.disconnect();
  };
  try {
    await waitForOutput(worker, /fhir-assess started/, 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { env, queue, rssPeakMb: () => Math.max(peak, worker.rssMb() ?? 0), stop };
}

export interface BackfillRun {
  patients: number;
  seconds: number;
  perSecond: number;
  /** Attempts that failed (retried or failed for good): a correct run has none. */
  failedAttempts: number;
}

/** `fhir-assess backfill --patients FILE --rate 0` for `ids` against a started worker, timed to its exit. */
export async function backfillPatients(worker: BenchWorker, ids: string[]): Promise<BackfillRun> {
  const dir = mkdtempSync(join(tmpdir(), 'fhir-assess-bench-'));
  const file = join(dir, 'patients.txt');
  writeFileSync(file, `${ids.join('\n')}\n`);
  try {
    const started = performance.now();
    const backfill = spawnCli(['backfill', '--patients', file, '--rate', '0'], worker.env, { quiet: true });
    const timeout = setTimeout(() => void backfill.stop(), RUN_LIMIT_MS);
    const code = await backfill.exited;
    clearTimeout(timeout);
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`backfill of ${ids.length} patients exited with ${code}`);
    const wanted = new Set(ids);
    const jobs = (await worker.queue.getJobs(['completed'], 0, -1)).filter((j) => wanted.has(j.data.patientId));
    const failedAttempts = jobs.reduce((n, j) => n + Math.max(0, j.attemptsMade - 1), 0);
    return { patients: jobs.length, seconds, perSecond: jobs.length / seconds, failedAttempts };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
