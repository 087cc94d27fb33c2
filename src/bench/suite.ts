import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import { DEFAULT_PATIENTS_FILE, PROJECT_ROOT } from '../paths.js';
import { rawRead } from './backfill.bench.js';
import { startSandboxProcess } from './cli-process.js';
import { FIXED_RATE, measureIntake } from './intake.bench.js';
import { measureLatency, p50 } from './latency.js';
import { type BackfillRun, backfillPatients, startBenchWorker } from './worker-runs.js';

const SYNTHEA = join(PROJECT_ROOT, '..', 'shared', 'data', 'synthea');
/** Rounds of every measure: the table shows the median and the spread. */
const ROUNDS = 3;
/** Where the JSON for tracking goes (gitignored). */
export const RESULTS_FILE = join(PROJECT_ROOT, 'bench-results.json');

/** How much a run measures: `--quick` is the same table from less data, in under two minutes. */
interface Scale {
  data: string;
  intakeSeconds: number;
  intakeWarmup: number;
  concurrencies: number[];
  largest: number;
  lone: number;
  bursts: number;
}

const FULL: Omit<Scale, 'data'> = {
  intakeSeconds: 4,
  intakeWarmup: 1,
  concurrencies: [1, 4, 8],
  largest: 40,
  lone: 6,
  bursts: 2,
};
const QUICK: Omit<Scale, 'data'> = {
  intakeSeconds: 1,
  intakeWarmup: 0.5,
  concurrencies: [8],
  largest: 16,
  lone: 4,
  bursts: 1,
};

/** One row of the table: ours against its reference, per round, and the aim. */
export interface Measure {
  id: string;
  measure: string;
  /** What "ours" and "reference" are counted in. */
  unit: string;
  ours: number[];
  reference?: number[];
  aim: string;
  /** Whether the median meets the aim (undefined: reported, no aim here). */
  met?: boolean;
  note?: string;
  /** Machine load (1-minute average) when the measure started and ended. */
  load: [number, number];
}

/**
 * `npm run bench [-- --quick]`: the measures of issue 13 in one run, each over ROUNDS rounds, as one
 * table (ratio of medians, spread of the per-round ratios, both raw medians, the aim, the machine's
 * load) plus JSON for tracking (printed, and written to bench-results.json). Every ratio compares two
 * things measured in the same round of the same run; the machine may be shared, so absolute figures
 * move with its load and only the ratios are comparable between runs.
 */
export async function runSuite(quick: boolean, log: (line: string) => void): Promise<Measure[]> {
  const scale: Scale = { ...(quick ? QUICK : FULL), data: dataFile(quick) };
  const started = Date.now();
  log(
    `issue-13 measures, ${quick ? 'quick' : 'full'} run: ${ROUNDS} rounds, ${cpus().length} cores, load ${loadText()}`,
  );
  const measures: Measure[] = [];
  measures.push(...(await intakeMeasures(scale, log)));
  measures.push(...(await backfillMeasures(scale, log)));
  measures.push(...(await latencyMeasures(scale, log)));
  printTable(measures, log);
  const json = {
    at: new Date().toISOString(),
    quick,
    node: process.version,
    cores: cpus().length,
    seconds: Math.round((Date.now() - started) / 1000),
    measures: measures.map(summarise),
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(json, null, 2)}\n`);
  log(`\nJSON (also in ${RESULTS_FILE}):\n${JSON.stringify(json)}`);
  return measures;
}

function dataFile(quick: boolean): string {
  const wanted = join(SYNTHEA, quick ? 'patients-80.ndjson.gz' : 'population.ndjson.gz');
  return existsSync(wanted) ? wanted : DEFAULT_PATIENTS_FILE;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; load: [number, number] }> {
  const before = loadavg()[0];
  const value = await work();
  return { value, load: [before, loadavg()[0]] };
}

async function intakeMeasures(scale: Scale, log: (l: string) => void): Promise<Measure[]> {
  log(`\nintake: ${scale.intakeSeconds} s per route per round, then ${FIXED_RATE} req/s for the latency`);
  const { value: r, load } = await timed(() =>
    measureIntake({ seconds: scale.intakeSeconds, warmup: scale.intakeWarmup, rounds: ROUNDS }),
  );
  for (const [i, round] of r.rounds.entries()) {
    log(
      `  round ${i + 1}: intake ${round.intake.rps.toFixed(0)} req/s, ${round.intake.busyUs.toFixed(0)} µs/req (${round.intake.non2xx + round.intake.errors} not 2xx), one-add BullMQ route ${round.bullmq.rps.toFixed(0)} req/s, ${round.bullmq.busyUs.toFixed(0)} µs/req, bare ${round.bare.rps.toFixed(0)} req/s, ${round.bare.busyUs.toFixed(0)} µs/req; at ${FIXED_RATE} req/s p99 ${r.fixed[i].p99} ms`,
    );
  }
  const failed = r.rounds.reduce((n, x) => n + x.intake.non2xx + x.intake.errors, 0);
  const ours = r.rounds.map((x) => x.intake.rps);
  const reference = r.rounds.map((x) => x.bullmq.rps);
  const p99 = r.fixed.map((x) => x.p99);
  // Capacity ratio: the one-add route's server time per request over ours (higher is better, like req/s).
  const busyOurs = r.rounds.map((x) => 1e6 / x.intake.busyUs);
  const busyRef = r.rounds.map((x) => 1e6 / x.bullmq.busyUs);
  return [
    {
      id: 'intake',
      measure: 'intake `POST /notify` vs a bare fastify route doing one BullMQ add, same payload and Redis',
      unit: 'req/s',
      ours,
      reference,
      aim: '≥ 0.9×',
      met: median(ratios(ours, reference)) >= 0.9 && failed === 0,
      note: failed ? `${failed} intake requests not answered 2xx` : undefined,
      load,
    },
    {
      id: 'intake-cpu',
      measure: 'the same, as server capacity: requests per second of main-thread busy time (1 / CPU per request)',
      unit: 'req/s',
      ours: busyOurs,
      reference: busyRef,
      aim: '≥ 0.9×',
      met: median(ratios(busyOurs, busyRef)) >= 0.9,
      load,
    },
    {
      id: 'intake-p99',
      measure: `intake p99 at ${FIXED_RATE} req/s`,
      unit: 'ms',
      ours: p99,
      aim: '< 20 ms',
      met: median(p99) < 20,
      load,
    },
  ];
}

async function backfillMeasures(scale: Scale, log: (l: string) => void): Promise<Measure[]> {
  const redis = await redisForDemo();
  const sandbox = await startSandboxProcess(scale.data, 1_200_000);
  const types = ['Patient', ...createEmbeddedModel().requires.resourceTypes].join(',');
  try {
    const all = (await rawRead(sandbox.baseUrl, types, () => {})).ids;
    log(`\nbackfill: ${all.length} patients (${scale.data.split('/').pop()}), a third per round`);
    const shadowWorker = await startBenchWorker(sandbox.baseUrl, redis.url, { mode: 'shadow' });
    const writeWorker = await startBenchWorker(sandbox.baseUrl, redis.url, { mode: 'preliminary' });
    const rows = { raw: [] as number[], shadow: [] as number[], written: [] as number[] };
    const sizes = new Map<string, number>();
    let failedAttempts = 0;
    const before = loadavg()[0];
    const rss = { shadow: 0, written: 0 };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Disjoint thirds: a write-back round never finds the chart a previous round wrote.
        const ids = all.filter((_, i) => i % ROUNDS === round);
        const raw = await rawRead(sandbox.baseUrl, types, () => {}, ids);
        for (const [id, n] of raw.sizes) sizes.set(id, n);
        const shadow = await backfillPatients(shadowWorker, ids);
        const written = await backfillPatients(writeWorker, ids);
        failedAttempts += shadow.failedAttempts + written.failedAttempts;
        rows.raw.push(raw.perSecond);
        rows.shadow.push(shadow.perSecond);
        rows.written.push(written.perSecond);
        log(`  round ${round + 1}: ${roundLine(ids.length, raw.perSecond, shadow, written)}`);
      }
    } finally {
      rss.shadow = shadowWorker.rssPeakMb();
      rss.written = writeWorker.rssPeakMb();
      await shadowWorker.stop();
      await writeWorker.stop();
    }
    const load: [number, number] = [before, loadavg()[0]];
    const memory = await rssByConcurrency(sandbox.baseUrl, redis.url, scale, sizes, log);
    const note = failedAttempts ? `${failedAttempts} failed attempts` : undefined;
    return [
      {
        id: 'shadow-backfill',
        measure: 'shadow backfill vs a raw loop of the same `$everything` reads (4 in flight)',
        unit: 'patients/s',
        ours: rows.shadow,
        reference: rows.raw,
        aim: '≥ 0.8×',
        met: median(ratios(rows.shadow, rows.raw)) >= 0.8 && !failedAttempts,
        note,
        load,
      },
      {
        id: 'writeback-backfill',
        measure: 'backfill with write-back vs the same raw loop',
        unit: 'patients/s',
        ours: rows.written,
        reference: rows.raw,
        aim: '≥ 0.5×',
        met: median(ratios(rows.written, rows.raw)) >= 0.5 && !failedAttempts,
        note,
        load,
      },
      {
        id: 'rss-backfill',
        measure: 'worker peak RSS during the backfill rounds, default concurrency (4): shadow / write-back worker',
        unit: 'MiB',
        ours: [rss.shadow, rss.written],
        aim: '(reported)',
        load,
      },
      ...memory,
      {
        id: 'second-worker',
        measure: 'second worker process on the same Redis',
        unit: '',
        ours: [],
        aim: 'say why; scaling where the bottleneck allows',
        note: 'measured by the scale-out bench (1/2/4 workers, issue 14); why one more gave no gain: see docs/operations.md "Throughput"',
        load,
      },
    ];
  } finally {
    await sandbox.close();
    await redis.stop();
  }
}

function roundLine(patients: number, raw: number, shadow: BackfillRun, written: BackfillRun): string {
  return `${patients} patients: raw ${raw.toFixed(1)}/s, shadow ${shadow.perSecond.toFixed(1)}/s (${(shadow.perSecond / raw).toFixed(2)}×), write-back ${written.perSecond.toFixed(1)}/s (${(written.perSecond / raw).toFixed(2)}×)`;
}

/** Peak RSS of a fresh shadow worker per concurrency level, assessing the largest records. */
async function rssByConcurrency(
  base: string,
  redisUrl: string,
  scale: Scale,
  sizes: Map<string, number>,
  log: (l: string) => void,
): Promise<Measure[]> {
  const largest = [...sizes].sort((a, b) => b[1] - a[1]).slice(0, scale.largest);
  const counts = largest.map(([, n]) => n);
  log(
    `\nworker RSS on the ${largest.length} largest records (${Math.min(...counts)}–${Math.max(...counts)} resources each), shadow mode`,
  );
  const out: Measure[] = [];
  for (const concurrency of scale.concurrencies) {
    const before = loadavg()[0];
    const worker = await startBenchWorker(base, redisUrl, { mode: 'shadow', concurrency });
    const peaks: number[] = [];
    try {
      // Twice over the same records: the second pass runs with the record cache full.
      for (let pass = 0; pass < 2; pass++) {
        await backfillPatients(
          worker,
          largest.map(([id]) => id),
        );
        peaks.push(worker.rssPeakMb());
      }
    } finally {
      await worker.stop();
    }
    log(`  ASSESS_CONCURRENCY=${concurrency}: peak RSS ${peaks.at(-1)} MiB`);
    out.push({
      id: `rss-c${concurrency}`,
      measure: `worker peak RSS, ASSESS_CONCURRENCY=${concurrency}, the ${largest.length} largest records`,
      unit: 'MiB',
      ours: [peaks.at(-1) as number],
      aim: concurrency === 8 ? '≤ 300 MiB' : '(reported)',
      met: concurrency === 8 ? (peaks.at(-1) as number) <= 300 : undefined,
      load: [before, loadavg()[0]],
    });
  }
  return out;
}

async function latencyMeasures(scale: Scale, log: (l: string) => void): Promise<Measure[]> {
  const out: Measure[] = [];
  const before = loadavg()[0];
  const rounds = await measureLatency({ rounds: ROUNDS, lone: scale.lone, bursts: scale.bursts, burstSize: 5 });
  const w = rounds[0].windowMs;
  log(
    `\nlatency (COALESCE_WINDOW_MS=${w}, COALESCE_MODE=leading): ${rounds.map((r, i) => `round ${i + 1}: lone p50 ${p50(r.loneMs)} ms, burst ${r.burstMs.join('/')} ms (${r.perBurst.join('/')} assessments)`).join('; ')}`,
  );
  const load: [number, number] = [before, loadavg()[0]];
  const lone = rounds.map((r) => p50(r.loneMs));
  const burst = rounds.map((r) => p50(r.burstMs));
  out.push(
    {
      id: 'latency-lone',
      measure: 'event → written-back assessment, p50, a lone change (leading edge)',
      unit: 'ms',
      ours: lone,
      aim: `≤ window + 500 ms (${w + 500})`,
      met: median(lone) <= w + 500,
      load,
    },
    {
      id: 'latency-burst',
      measure: `last change of a 5-change burst → assessment of the newest state, p50`,
      unit: 'ms',
      ours: burst,
      aim: `≤ window + 500 ms (${w + 500})`,
      met: median(burst) <= w + 500,
      load,
    },
  );
  return out;
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : Number.NaN);
const ratios = (a: number[], b: number[]) => a.map((x, i) => x / b[i]);

function summarise(m: Measure) {
  const r = m.reference ? ratios(m.ours, m.reference) : undefined;
  return {
    id: m.id,
    measure: m.measure,
    unit: m.unit,
    ratio: r ? round3(median(r)) : undefined,
    ratioSpread: r ? [round3(Math.min(...r)), round3(Math.max(...r))] : undefined,
    ours: m.ours.length ? round3(median(m.ours)) : undefined,
    oursRounds: m.ours.map(round3),
    reference: m.reference ? round3(median(m.reference)) : undefined,
    referenceRounds: m.reference?.map(round3),
    aim: m.aim,
    met: m.met,
    note: m.note,
    load1m: m.load.map(round3),
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function printTable(measures: Measure[], log: (l: string) => void): void {
  const f = (x: number | undefined, d = 1) => (x === undefined || Number.isNaN(x) ? '' : x.toFixed(d));
  log('');
  log('| measure | ratio (median) | spread over rounds | ours (median) | reference (median) | aim | met | load 1m |');
  log('|---|---|---|---|---|---|---|---|');
  for (const m of measures) {
    const s = summarise(m);
    const unit = m.unit ? ` ${m.unit}` : '';
    const spread = s.ratioSpread
      ? `${f(s.ratioSpread[0], 2)}–${f(s.ratioSpread[1], 2)}×`
      : m.ours.length > 1
        ? `${f(Math.min(...m.ours), 0)}–${f(Math.max(...m.ours), 0)}${unit}`
        : '';
    const met = m.met === undefined ? '' : m.met ? 'yes' : 'no';
    log(
      `| ${m.measure} | ${s.ratio === undefined ? '' : `${f(s.ratio, 2)}×`} | ${spread} | ${s.ours === undefined ? (m.note ?? '') : `${f(s.ours, 0)}${unit}`} | ${s.reference === undefined ? '' : `${f(s.reference, 0)}${unit}`} | ${m.aim} | ${met} | ${f(m.load[0])}→${f(m.load[1])} |`,
    );
  }
  const notes = measures.filter((m) => m.note && m.ours.length);
  for (const m of notes) log(`note (${m.id}): ${m.note}`);
  log(
    `machine: ${cpus().length} cores, load now ${loadText()} (1/5/15 min); ratios compare the two sides of one round`,
  );
}

function loadText(): string {
  return loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ');
}
