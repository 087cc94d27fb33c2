import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resourceUsage } from 'node:process';
import { fileURLToPath } from 'node:url';
import type { Bundle } from '@medplum/fhirtypes';
import { runBackfill } from '../backfill/run-backfill.js';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { loadConfig } from '../config/config.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import { PROJECT_ROOT } from '../paths.js';
import { startService } from '../service.js';
import { freePort } from '../util/local-redis.js';
import { createLogger } from '../util/logger.js';
import type { Bench } from './bench.js';
import { cdsLatency } from './cds-latency.js';

const POPULATION = join(PROJECT_ROOT, '..', 'shared', 'data', 'synthea', 'population.ndjson.gz');
/** Assessments (and raw reads) in flight at once: the service's default ASSESS_CONCURRENCY. */
const CONCURRENCY = 4;
/** Upper bound on each measured phase (ms): 10 min. */
const PHASE_LIMIT_MS = 600_000;
/** RSS sampling period (ms). */
const SAMPLE_MS = 50;

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/**
 * Backfill throughput over the 592-patient Synthea population in the sandbox EHR (Bulk export
 * enumeration, embedded model, write-back), against the raw cost of reading the same records with a
 * plain `$everything` fetch loop at the same concurrency, in the same run.
 */
export const bench: Bench = {
  name: 'backfill',
  title: 'backfill patients/s (export + record + model + write-back) vs a plain $everything fetch loop',
  async run(log): Promise<Record<string, number | string>> {
    if (!existsSync(POPULATION)) {
      log(`skipped: ${POPULATION} (../shared beside the checkout) is absent`);
      return { skipped: 'population.ndjson.gz absent' };
    }
    const redis = await redisForDemo();
    const t0 = Date.now();
    // The EHR runs in its own process, so this process's memory is the worker's (and the raw reader's).
    const sandbox = await startSandboxProcess(POPULATION);
    const patients = ((await (await fetch(`${sandbox.baseUrl}/Patient?_summary=count`)).json()) as Bundle).total ?? 0;
    log(`sandbox (separate process): ${patients} patients loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const models = [createEmbeddedModel()];
    const types = ['Patient', ...new Set(models.flatMap((m) => m.requires.resourceTypes))].join(',');
    try {
      const raw = await rawRead(sandbox.baseUrl, types, log);
      // Shadow first: it writes nothing to the EHR, so the write-back run after it starts from the same chart.
      const shadow = await backfill(sandbox.baseUrl, redis.url, models, 'shadow', log);
      const result = await backfill(sandbox.baseUrl, redis.url, models, 'preliminary', log);
      const cds = await cdsLatency(sandbox.baseUrl, redis.url, raw.ids);
      const ratio = result.perSecond / raw.perSecond;
      const shadowRatio = shadow.perSecond / raw.perSecond;
      const row = (what: string, r: { patients: number; seconds: number; perSecond: number }) =>
        log(`| ${what} | ${r.patients} | ${r.seconds.toFixed(1)} | ${r.perSecond.toFixed(1)} |`);
      log('');
      log('| phase | patients | seconds | patients/s |');
      log('|---|---|---|---|');
      row(`raw $everything (_type as the models need, ${CONCURRENCY} in flight)`, raw);
      row(`backfill, shadow mode (bulk export, record, model; no EHR write), ${CONCURRENCY} workers`, shadow);
      row(`backfill (bulk export, record, model, write-back), ${CONCURRENCY} workers`, result);
      log(
        `backfill / raw read throughput: ${ratio.toFixed(2)} (shadow-mode backfill / raw read: ${shadowRatio.toFixed(2)})`,
      );
      log(
        `worker process RSS: ${result.rssBeforeMb} MB before, peak ${result.rssPeakMb} MB during the backfill; maxRSS ${result.maxRssMb} MB`,
      );
      log(
        `CDS Hooks patient-view over the assessed charts (${cds.samples} calls, ${cds.withCards} with cards): p50 ${cds.cdsP50Ms} ms, p95 ${cds.cdsP95Ms} ms; the same two EHR searches direct: p50 ${cds.ehrP50Ms} ms, p95 ${cds.ehrP95Ms} ms (ratio p50 ${(cds.cdsP50Ms / cds.ehrP50Ms).toFixed(2)})`,
      );
      return {
        cdsP95Ms: cds.cdsP95Ms,
        cdsToEhrP50Ratio: Number((cds.cdsP50Ms / cds.ehrP50Ms).toFixed(2)),
        patients,
        rawPatientsPerS: Number(raw.perSecond.toFixed(1)),
        backfillPatientsPerS: Number(result.perSecond.toFixed(1)),
        backfillToRawRatio: Number(ratio.toFixed(3)),
        shadowPatientsPerS: Number(shadow.perSecond.toFixed(1)),
        shadowToRawRatio: Number(shadowRatio.toFixed(3)),
        workerRssPeakMb: Math.max(result.rssPeakMb, shadow.rssPeakMb),
        failed: result.failed + shadow.failed,
      };
    } finally {
      await sandbox.close();
      await redis.stop();
    }
  },
};

/** `fhir-assess sandbox` in a child process (its own heap), ready once it prints its base URL. */
async function startSandboxProcess(file: string): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=6144', cli, 'sandbox', '--port', String(port), '--data', file],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'warn' },
    },
  );
  const close = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
      const m = / at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`sandbox exited (code ${code}) before it was ready`)));
    setTimeout(() => reject(new Error('sandbox not ready within 10 min')), PHASE_LIMIT_MS).unref();
  }).catch(async (err) => {
    await close();
    throw err;
  });
  return { baseUrl, close };
}

/** Every patient's `$everything` (all pages), CONCURRENCY at a time, with plain fetch. */
async function rawRead(base: string, types: string, log: (l: string) => void) {
  const ids: string[] = [];
  for (let url: string | undefined = `${base}/Patient?_count=1000`; url; ) {
    const page = (await (await fetch(url)).json()) as Bundle;
    for (const e of page.entry ?? []) ids.push(e.resource!.id!);
    url = page.link?.find((l) => l.relation === 'next')?.url;
  }
  const started = performance.now();
  const deadline = Date.now() + PHASE_LIMIT_MS;
  let next = 0;
  let resources = 0;
  const worker = async () => {
    while (next < ids.length && Date.now() < deadline) {
      const id = ids[next++];
      for (let url: string | undefined = `${base}/Patient/${id}/$everything?_type=${types}&_count=1000`; url; ) {
        const page = (await (await fetch(url)).json()) as Bundle;
        resources += page.entry?.length ?? 0;
        url = page.link?.find((l) => l.relation === 'next')?.url;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  log(`raw read: ${next} patients, ${resources} resources in ${seconds.toFixed(1)} s`);
  return { patients: next, seconds, perSecond: next / seconds, ids };
}

/** The backfill of everyone through the real service workers; RSS sampled while it runs. */
async function backfill(
  base: string,
  redisUrl: string,
  models: ReturnType<typeof createEmbeddedModel>[],
  mode: 'shadow' | 'preliminary',
  log: (l: string) => void,
) {
  const cfg = loadConfig({
    FHIR_BASE_URL: base,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `bench-backfill-${process.pid}-${Date.now()}`,
    AS_OF: '2021-04-01',
    ASSESS_CONCURRENCY: String(CONCURRENCY),
    EHR_RATE_LIMIT: '0',
    COALESCE_WINDOW_MS: '0',
    MODEL_MODE: mode,
    LOG_LEVEL: 'error',
  });
  const service = await startService(cfg, { http: false, workers: true }, createLogger('error'), models);
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), SAMPLE_MS);
  const started = performance.now();
  try {
    const result = await runBackfill(
      {
        sources: service.sources,
        assessQueue: service.assessQueue,
        redis: service.redis,
        prefix: cfg.QUEUE_PREFIX,
        redisUrl,
        modelTypes: [...new Set(models.flatMap((m) => m.requires.resourceTypes))],
      },
      {
        source: cfg.sources[0].name,
        selection: { kind: 'all' },
        ratePerSecond: 0,
        signal: AbortSignal.timeout(PHASE_LIMIT_MS),
      },
    );
    const seconds = (performance.now() - started) / 1000;
    const finished = result.done + result.failed + result.skipped;
    log(
      `backfill (${mode}): ${result.strategy}, enqueued ${result.enqueued}, done ${result.done}, failed ${result.failed}, skipped ${result.skipped} in ${seconds.toFixed(1)} s (${result.phase})`,
    );
    return {
      patients: finished,
      failed: result.failed,
      seconds,
      perSecond: finished / seconds,
      rssBeforeMb: mb(rssBefore),
      rssPeakMb: mb(rssPeak),
      maxRssMb: Math.round(resourceUsage().maxRSS / 1024),
    };
  } finally {
    clearInterval(sampler);
    await service.assessQueue.obliterate({ force: true }).catch(() => {});
    await service.eventsQueue.obliterate({ force: true }).catch(() => {});
    const keys = await service.redis.keys(`${cfg.QUEUE_PREFIX}:*`).catch(() => [] as string[]);
    if (keys.length) await service.redis.del(...keys).catch(() => {});
    await service.close();
  }
}
