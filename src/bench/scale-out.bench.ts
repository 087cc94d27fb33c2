import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { createAssessQueue, enqueueAssessment } from '../jobs/assess-queue.js';
import { producerConnection, ready } from '../jobs/redis-connection.js';
import { DEFAULT_PATIENTS_FILE } from '../paths.js';
import type { Bench } from './bench.js';
import type { EhrHit } from './scale-out-ehr.js';

/** The 80 curated Synthea patients (../shared beside the checkout); the 16 shipped ones when absent. */
const SHARED = fileURLToPath(new URL('../../../shared/data/synthea/patients-80.ndjson.gz', import.meta.url));
const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));
const EHR = fileURLToPath(new URL('./scale-out-ehr.js', import.meta.url));
const WORKER_COUNTS = [1, 2, 4];
/** The per-EHR limit of the limited runs (assessments started per second, all workers together) and its burst. */
const LIMIT = 3;
const BURST = 3;
/** What a remote EHR adds to each request in the latency-bound runs (network and database), ms. */
const LATENCY_MS = 150;
const WAIT_LIMIT_MS = 600_000;

/** One series of runs: the same work with 1, 2 and 4 worker processes. */
interface Series {
  name: string;
  /** What bounds one worker here, in words. */
  bound: string;
  patients: number;
  latencyMs: number;
  concurrency: number;
  limit: number;
}

const SERIES: Series[] = [
  { name: 'cpu', bound: 'our CPU (EHR answers at once)', patients: 80, latencyMs: 0, concurrency: 4, limit: 0 },
  {
    name: 'latency',
    bound: `the EHR's latency (${LATENCY_MS} ms a request)`,
    patients: 40,
    latencyMs: LATENCY_MS,
    concurrency: 1,
    limit: 0,
  },
  {
    name: 'limited',
    bound: `EHR_RATE_LIMIT ${LIMIT}/s (burst ${BURST}), EHR latency ${LATENCY_MS} ms`,
    patients: 40,
    latencyMs: LATENCY_MS,
    concurrency: 1,
    limit: LIMIT,
  },
];

interface Run {
  series: Series;
  workers: number;
  limit: number;
  assessments: number;
  seconds: number;
  requests: number;
  /** Assessment starts as the EHR saw them: the first page of each `Patient/{id}/$everything`. */
  starts: number[];
}

/**
 * Throughput of 1, 2 and 4 `fhir-assess worker` processes against one sandbox EHR in its own process,
 * first without a rate limit, then with EHR_RATE_LIMIT: the EHR counts every request, and the
 * assessment starts it sees are checked against the token bucket the limit promises (across all
 * worker processes). Each run gets a fresh EHR (the same patients, nothing written yet) and queue
 * prefix, so every run does the same work: assess each patient once, write back.
 */
export const bench: Bench = {
  name: 'scale-out',
  title: 'worker processes 1, 2, 4 against one EHR: throughput, and the per-EHR rate limit as the EHR sees it',
  async run(log): Promise<Record<string, number | string>> {
    const file = existsSync(SHARED) ? SHARED : DEFAULT_PATIENTS_FILE;
    const redis = await redisForDemo();
    const runs: Run[] = [];
    try {
      for (const series of SERIES) {
        for (const workers of WORKER_COUNTS) runs.push(await measure(redis.url, file, workers, series));
      }
    } finally {
      await redis.stop();
    }
    return report(runs, file, log);
  },
};

async function measure(redisUrl: string, file: string, workers: number, series: Series): Promise<Run> {
  const { limit } = series;
  const ehr = await startEhr(file, series.patients, series.latencyMs);
  const prefix = `bench-scale-${process.pid}-${series.name}-${workers}`;
  const env = {
    PATH: process.env.PATH ?? '',
    FHIR_BASE_URL: ehr.baseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    AS_OF: '2021-04-01',
    EHR_RATE_LIMIT: String(limit),
    EHR_RATE_BURST: String(BURST),
    ASSESS_CONCURRENCY: String(series.concurrency),
    LOG_LEVEL: 'error',
  };
  const procs = Array.from({ length: workers }, () =>
    spawn(process.execPath, [CLI, 'worker'], { env, stdio: 'inherit' }),
  );
  const conn = producerConnection(redisUrl);
  const queue = createAssessQueue(conn, prefix);
  try {
    await ready(conn);
    // Each worker reads the EHR's CapabilityStatement at start-up: all are up once the EHR saw them all.
    await until(async () => (await ehr.hits()).filter((h) => h.url.endsWith('/metadata')).length >= workers, 'workers');
    await ehr.report();
    const t0 = performance.now();
    for (const patientId of ehr.patients) {
      await enqueueAssessment(queue, { source: 'ehr', patientId, trigger: 'backfill', priority: 'backfill' }, 0);
    }
    await until(async () => {
      const c = await queue.getJobCounts('completed', 'failed');
      return c.completed + c.failed >= ehr.patients.length;
    }, 'assessments');
    const seconds = (performance.now() - t0) / 1000;
    const failed = (await queue.getJobCounts('failed')).failed;
    if (failed) throw new Error(`${failed} assessments failed with ${workers} workers`);
    const hits = await ehr.report();
    const starts = hits.filter((h) => /\/Patient\/[^/]+\/\$everything/.test(h.url) && !/_offset=[1-9]/.test(h.url));
    return {
      series,
      workers,
      limit,
      assessments: ehr.patients.length,
      seconds,
      requests: hits.length,
      starts: starts.map((h) => h.t).sort((a, b) => a - b),
    };
  } finally {
    await Promise.all(procs.map(stop));
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    conn.disconnect();
    await ehr.close();
  }
}

/** The largest number of starts in any 1-second window. */
function peakPerSecond(starts: number[]): number {
  let peak = 0;
  for (let i = 0, j = 0; j < starts.length; j++) {
    while (starts[j] - starts[i] >= 1000) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
}

/**
 * How far the starts exceed the token bucket (rate r/s, burst b): over every interval [t_i, t_j], at
 * most b + r (t_j - t_i) starts may happen. 0 or less: the limit held (timestamps are the EHR's, a
 * few ms after the token was taken in Redis).
 */
function bucketExcess(starts: number[], rate: number, burst: number): number {
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < starts.length; i++) {
    for (let j = i; j < starts.length; j++) {
      worst = Math.max(worst, j - i + 1 - (burst + (rate * (starts[j] - starts[i])) / 1000));
    }
  }
  return worst;
}

function report(runs: Run[], file: string, log: (line: string) => void): Record<string, number | string> {
  const summary: Record<string, number | string> = {};
  log('');
  log(
    `patients from ${file.split('/').slice(-2).join('/')}; each run: a fresh EHR process, N worker processes, every patient assessed once`,
  );
  log('');
  log(
    '| one worker bound by | workers × concurrency | assessments/s | × 1 worker | EHR requests/s | requests per assessment | peak starts in 1 s (at the EHR) | bucket excess |',
  );
  log('|---|---|---|---|---|---|---|---|');
  for (const r of runs) {
    const base = runs.find((b) => b.series === r.series && b.workers === 1)!;
    const rate = r.assessments / r.seconds;
    const speedup = rate / (base.assessments / base.seconds);
    const excess = r.limit ? bucketExcess(r.starts, r.limit, BURST) : Number.NaN;
    log(
      `| ${r.series.bound} | ${r.workers} × ${r.series.concurrency} | ${rate.toFixed(2)} | ${speedup.toFixed(2)} | ${(r.requests / r.seconds).toFixed(1)} | ${(r.requests / r.assessments).toFixed(1)} | ${peakPerSecond(r.starts)} | ${r.limit ? excess.toFixed(2) : '-'} |`,
    );
    const key = `${r.series.name}.${r.workers}w`;
    summary[`${key}.assessments_per_s`] = Number(rate.toFixed(2));
    summary[`${key}.speedup`] = Number(speedup.toFixed(2));
    if (r.limit) summary[`${key}.bucket_excess`] = Number(excess.toFixed(2));
  }
  log(
    '\nassessments/s: from enqueueing every patient to the last job done; × 1 worker: ratio to the 1-worker run of the same row group.',
  );
  log(
    `starts: assessments as the EHR saw them begin (the first page of Patient/{id}/$everything, timed on arrival). bucket excess: the most starts in any interval beyond ${BURST} + ${LIMIT}/s × its length; ≤ 0 means the limit held across every worker process.`,
  );
  log(
    'EHR_RATE_LIMIT counts assessments, not requests: the EHR sees about "requests per assessment" times as many requests.',
  );
  log(
    'The EHR, Redis and the workers share this machine: where our CPU bounds a worker, more processes than cores add nothing.',
  );
  return summary;
}

interface BenchEhr {
  baseUrl: string;
  patients: string[];
  /** Requests seen since the last report, without resetting. */
  hits(): Promise<EhrHit[]>;
  /** Requests seen since the last report; resets. */
  report(): Promise<EhrHit[]>;
  close(): Promise<void>;
}

async function startEhr(file: string, patients: number, latencyMs: number): Promise<BenchEhr> {
  const child = fork(EHR, [file, String(patients), String(latencyMs)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const first = await nextMessage<{ baseUrl: string; patients: string[] }>(child, 'the EHR to load');
  let kept: EhrHit[] = [];
  const fetchHits = async () => {
    child.send('report');
    kept = kept.concat((await nextMessage<{ hits: EhrHit[] }>(child, 'the EHR report')).hits);
    return kept;
  };
  return {
    ...first,
    hits: fetchHits,
    report: async () => {
      const all = await fetchHits();
      kept = [];
      return all;
    },
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.send('exit');
      await exited;
    },
  };
}

function nextMessage<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`the EHR process exited (code ${code}) waiting for ${what}`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as T);
    });
  });
}

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`scale-out bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}
