import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@medplum/fhirtypes';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { createAssessQueue } from '../jobs/assess-queue.js';
import { producerConnection } from '../jobs/redis-connection.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import { PROJECT_ROOT } from '../paths.js';
import { type Bench, percentile } from './bench.js';
import { cdsLatency } from './cds-latency.js';
import { type CliProcess, spawnCli, startSandboxProcess, waitForOutput } from './cli-process.js';

const POPULATION = join(PROJECT_ROOT, '..', 'shared', 'data', 'synthea', 'population.ndjson.gz');
/** Raw reads in flight at once: the worker's default ASSESS_CONCURRENCY, so both sides get the same parallelism. */
const CONCURRENCY = 4;
/** Upper bound on each measured phase (ms): 20 min. */
const PHASE_LIMIT_MS = 1_200_000;
/** Worker RSS sampling period (ms). */
const SAMPLE_MS = 200;
/** Jobs in the "first" and "last" windows that show whether the job time stays flat (issue 17). */
const WINDOW = 100;

/**
 * Backfill of the 592-patient Synthea population measured the way a user runs it (issue 17): the
 * sandbox EHR, `fhir-assess worker` and `fhir-assess backfill --all --rate 0` each in their own
 * process, in shadow mode and then with write-back, against the raw cost of reading the same records
 * with a plain `$everything` fetch loop in the same run. First-100 vs last-100 rates and job times
 * show whether a run slows down as the EHR fills with our write-backs.
 */
export const bench: Bench = {
  name: 'backfill',
  title: 'backfill as users run it (sandbox, worker, backfill processes) vs a plain $everything fetch loop',
  async run(log): Promise<Record<string, number | string>> {
    if (!existsSync(POPULATION)) {
      log(`skipped: ${POPULATION} (../shared beside the checkout) is absent`);
      return { skipped: 'population.ndjson.gz absent' };
    }
    const redis = await redisForDemo();
    const t0 = Date.now();
    const sandbox = await startSandboxProcess(POPULATION, PHASE_LIMIT_MS);
    const patients = ((await (await fetch(`${sandbox.baseUrl}/Patient?_summary=count`)).json()) as Bundle).total ?? 0;
    log(`sandbox (own process): ${patients} patients loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const types = ['Patient', ...createEmbeddedModel().requires.resourceTypes].join(',');
    try {
      const raw = await withCpu(sandbox.process, () => rawRead(sandbox.baseUrl, types, log));
      // Shadow first: it writes nothing to the EHR, so the write-back run after it starts from the same chart.
      const shadow = await withCpu(sandbox.process, () => backfillAsUser(sandbox.baseUrl, redis.url, 'shadow', log));
      const written = await withCpu(sandbox.process, () =>
        backfillAsUser(sandbox.baseUrl, redis.url, 'preliminary', log),
      );
      const cds = await cdsLatency(sandbox.baseUrl, redis.url, raw.ids);
      printTable(log, raw, shadow, written);
      printCpu(log, raw, shadow, written);
      log(
        `CDS Hooks patient-view over the assessed charts (${cds.samples} calls, ${cds.withCards} with cards): p50 ${cds.cdsP50Ms} ms, p95 ${cds.cdsP95Ms} ms; the same two EHR searches direct: p50 ${cds.ehrP50Ms} ms (ratio p50 ${(cds.cdsP50Ms / cds.ehrP50Ms).toFixed(2)})`,
      );
      const r = (x: number) => Number(x.toFixed(3));
      return {
        patients,
        rawPatientsPerS: r(raw.perSecond),
        shadowPatientsPerS: r(shadow.perSecond),
        backfillPatientsPerS: r(written.perSecond),
        shadowToRawRatio: r(shadow.perSecond / raw.perSecond),
        backfillToRawRatio: r(written.perSecond / raw.perSecond),
        writebackToShadowRatio: r(written.perSecond / shadow.perSecond),
        writebackFirst100PerS: r(written.first.perSecond),
        writebackLast100PerS: r(written.last.perSecond),
        writebackLastToFirstRatio: r(written.last.perSecond / written.first.perSecond),
        writebackMedianJobFirst100S: r(written.first.medianJobS),
        writebackMedianJobLast100S: r(written.last.medianJobS),
        workerRssPeakMb: Math.max(shadow.rssPeakMb, written.rssPeakMb),
        failedAttempts: shadow.failedAttempts + written.failedAttempts,
        cdsP95Ms: cds.cdsP95Ms,
        cdsToEhrP50Ratio: r(cds.cdsP50Ms / cds.ehrP50Ms),
      };
    } finally {
      await sandbox.close();
      await redis.stop();
    }
  },
};

type RunResult = Awaited<ReturnType<typeof backfillAsUser>> & { ehrCpuS: number };

function printTable(
  log: (l: string) => void,
  raw: { patients: number; seconds: number; perSecond: number },
  shadow: RunResult,
  written: RunResult,
) {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  log('');
  log(
    '| phase | patients | s | patients/s | first 100: patients/s, median job s | last 100: patients/s, median job s | job p95 s | retried attempts | worker peak RSS MB |',
  );
  log('|---|---|---|---|---|---|---|---|---|');
  log(
    `| raw $everything loop (${CONCURRENCY} in flight) | ${raw.patients} | ${f(raw.seconds)} | ${f(raw.perSecond)} | | | | | |`,
  );
  for (const [name, r] of [
    ['backfill, shadow (no EHR writes)', shadow],
    ['backfill, write-back', written],
  ] as const) {
    log(
      `| ${name} | ${r.patients} | ${f(r.seconds)} | ${f(r.perSecond)} | ${f(r.first.perSecond)}, ${f(r.first.medianJobS, 2)} | ${f(r.last.perSecond)}, ${f(r.last.medianJobS, 2)} | ${f(r.p95JobS, 2)} | ${r.failedAttempts} | ${r.rssPeakMb} |`,
    );
  }
  log(
    `write-back / shadow: ${f(written.perSecond / shadow.perSecond, 2)}; shadow / raw: ${f(shadow.perSecond / raw.perSecond, 2)}; write-back / raw: ${f(written.perSecond / raw.perSecond, 2)}; write-back last 100 / first 100: ${f(written.last.perSecond / written.first.perSecond, 2)}`,
  );
}

/** Every patient id on the EHR, by paging Patient search. */
export async function patientIds(base: string): Promise<string[]> {
  const ids: string[] = [];
  for (let url: string | undefined = `${base}/Patient?_count=1000`; url; ) {
    const page = (await (await fetch(url)).json()) as Bundle;
    for (const e of page.entry ?? []) ids.push(e.resource?.id as string);
    url = page.link?.find((l) => l.relation === 'next')?.url;
  }
  return ids;
}

/**
 * Every patient's `$everything` (all pages, the models' types), CONCURRENCY at a time, with plain fetch:
 * the raw cost of the reads a backfill makes. `sizes` gets each patient's resource count.
 */
export async function rawRead(base: string, types: string, log: (l: string) => void, only?: string[]) {
  const ids = only ?? (await patientIds(base));
  const sizes = new Map<string, number>();
  const started = performance.now();
  let next = 0;
  let resources = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      let n = 0;
      for (let url: string | undefined = `${base}/Patient/${id}/$everything?_type=${types}&_count=1000`; url; ) {
        const page = (await (await fetch(url)).json()) as Bundle;
        n += page.entry?.length ?? 0;
        url = page.link?.find((l) => l.relation === 'next')?.url;
      }
      sizes.set(id, n);
      resources += n;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  log(`raw read: ${next} patients, ${resources} resources in ${seconds.toFixed(1)} s`);
  return { patients: next, seconds, perSecond: next / seconds, ids, sizes };
}

/**
 * `fhir-assess worker` (EHR_RATE_LIMIT=0, default concurrency and log level) and
 * `fhir-assess backfill --all --rate 0` in their own processes, on a fresh queue prefix; then the
 * completed jobs' timestamps give the rate and job time of the first and last 100 patients.
 */
async function backfillAsUser(
  base: string,
  redisUrl: string,
  mode: 'shadow' | 'preliminary',
  log: (l: string) => void,
) {
  const prefix = `bench-bf-${mode}-${process.pid}-${Date.now()}`;
  const env = {
    FHIR_BASE_URL: base,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    AS_OF: '2021-04-01',
    EHR_RATE_LIMIT: '0',
    MODEL_MODE: mode,
  };
  const worker = spawnCli(['worker'], env);
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, worker.rssMb() ?? 0)), SAMPLE_MS);
  const redis = producerConnection(redisUrl);
  const queue = createAssessQueue(redis, prefix);
  let backfill: CliProcess | undefined;
  try {
    await waitForOutput(worker, /fhir-assess started/, 60_000);
    const started = performance.now();
    let summary = '';
    backfill = spawnCli(['backfill', '--all', '--rate', '0'], env, {
      quiet: true,
      onStdout: (d) => (summary += d),
    });
    const timeout = setTimeout(() => void backfill?.stop(), PHASE_LIMIT_MS);
    const code = await backfill.exited;
    clearTimeout(timeout);
    const seconds = (performance.now() - started) / 1000;
    log(`backfill (${mode}) exit ${code}: ${summary.trim().split('\n')[0]}`);
    const workerCpuS = worker.cpuSeconds() ?? Number.NaN;
    const jobs = (await queue.getJobs(['completed'], 0, -1))
      .filter((j) => j.finishedOn && j.processedOn)
      .sort((a, b) => (a.finishedOn as number) - (b.finishedOn as number));
    const failedAttempts =
      jobs.reduce((n, j) => n + Math.max(0, j.attemptsMade - 1), 0) + (await queue.getFailedCount());
    const jobS = (j: (typeof jobs)[number]) => ((j.finishedOn as number) - (j.processedOn as number)) / 1000;
    const windowOf = (slice: typeof jobs) => ({
      perSecond: (slice.length - 1) / (((slice.at(-1)?.finishedOn ?? 0) - (slice[0]?.finishedOn ?? 0)) / 1000),
      medianJobS: percentile(slice.map(jobS), 50),
    });
    return {
      patients: jobs.length,
      seconds,
      perSecond: jobs.length / seconds,
      first: windowOf(jobs.slice(0, WINDOW + 1)),
      last: windowOf(jobs.slice(-(WINDOW + 1))),
      p95JobS: percentile(jobs.map(jobS), 95),
      failedAttempts,
      rssPeakMb: rssPeak,
      workerCpuS,
    };
  } finally {
    clearInterval(sampler);
    await backfill?.stop();
    await worker.stop();
    await queue.obliterate({ force: true }).catch(() => {});
    const keys = await redis.keys(`${prefix}:*`).catch(() => [] as string[]);
    if (keys.length) await redis.del(...keys).catch(() => {});
    await queue.close();
    redis.disconnect();
  }
}

/** Runs `phase` and adds the CPU seconds the sandbox EHR process used meanwhile (`ehrCpuS`). */
async function withCpu<T>(ehr: CliProcess, phase: () => Promise<T>): Promise<T & { ehrCpuS: number }> {
  const before = ehr.cpuSeconds() ?? Number.NaN;
  const result = await phase();
  return { ...result, ehrCpuS: (ehr.cpuSeconds() ?? Number.NaN) - before };
}

/**
 * Where the CPU goes per patient (issue 13: why the pipeline reads slower than a raw loop of the same
 * reads): the EHR's CPU for the same reads, and the worker's own on top. On a machine whose cores the
 * EHR and the worker share, the pipeline cannot beat raw × EHR / (EHR + worker).
 */
function printCpu(
  log: (l: string) => void,
  raw: { patients: number; ehrCpuS: number },
  shadow: RunResult,
  written: RunResult,
) {
  const ms = (s: number, n: number) => ((s / n) * 1000).toFixed(1);
  log('');
  log('| phase | EHR CPU ms/patient | worker CPU ms/patient |');
  log('|---|---|---|');
  log(`| raw $everything loop | ${ms(raw.ehrCpuS, raw.patients)} | |`);
  for (const [name, r] of [
    ['backfill, shadow', shadow],
    ['backfill, write-back', written],
  ] as const)
    log(`| ${name} | ${ms(r.ehrCpuS, r.patients)} | ${ms(r.workerCpuS, r.patients)} |`);
}
