import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { FhirClient } from '../fhir/fhir-client.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import type { DataRequirement } from '../models/model.js';
import { RecordAssembler, type Strategy } from '../record/assemble-record.js';
import { recordHash } from '../record/record-hash.js';
import { type Bench, percentile } from './bench.js';
import { type RecordBenchEhr, startRecordBenchEhr } from './record-bench-ehr-process.js';

const SIZES = [100, 1_000, 10_000];
const STRATEGIES: Strategy[] = ['everything', 'batch', 'search'];
/** `_count` used by every strategy and by the raw loop: 1,000 (the sandbox's maximum). */
const PAGE_SIZE = 1_000;
const SYNTHETIC_REQUIRES: DataRequirement[] = [
  { resourceTypes: ['Patient', 'Observation', 'Condition', 'MedicationRequest'] },
];
/** Timed runs per record size (bounded again by PHASE_LIMIT_MS). */
const RUNS: Record<number, number> = { 100: 60, 1000: 20, 10000: 6 };
/** Upper bound on any one measured phase: 60 s. */
const PHASE_LIMIT_MS = 60_000;
const POPULATION = fileURLToPath(new URL('../../../shared/data/synthea/population.ndjson.gz', import.meta.url));
/** Population patients loaded (the file's 592 by default, ~25 s to load); BENCH_RECORD_PATIENTS=N takes the first N. */
const DEFAULT_POPULATION_PATIENTS: number | undefined = undefined;

/** The baseline: a plain fetch loop over the same `$everything` pages, parsing each page to find `next`. */
async function rawEverything(baseUrl: string, patientId: string, types: string[]): Promise<number> {
  let url: string | undefined =
    `${baseUrl}/Patient/${patientId}/$everything?_type=${types.join(',')}&_count=${PAGE_SIZE}`;
  let resources = 0;
  for (let page = 0; url && page < 1_000; page++) {
    const bundle = (await (await fetch(url, { headers: { accept: 'application/fhir+json' } })).json()) as Bundle;
    resources += bundle.entry?.length ?? 0;
    url = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  return resources;
}

function assembler(baseUrl: string, strategy: Strategy | 'auto' = 'everything'): RecordAssembler {
  return new RecordAssembler(new FhirClient({ baseUrl }), { strategy, pageSize: PAGE_SIZE, maxResources: 20_000 });
}

/** CPU time (user + system) of `work` in this process, ms, and its wall time. */
async function measured<T>(work: () => Promise<T>): Promise<{ cpuMs: number; wallMs: number; value: T }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0, value };
}

async function roundTrips(ehr: RecordBenchEhr, log: (l: string) => void): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  log(
    `\nEHR round trips per assessment (CapabilityStatement and token fetched once per source, not counted), _count=${PAGE_SIZE}`,
  );
  log('| resources | strategy | round trips | of which pages beyond the first |');
  log('|---:|---|---:|---:|');
  for (const size of SIZES) {
    for (const strategy of STRATEGIES) {
      const a = assembler(ehr.baseUrl, strategy);
      await a.client.capabilities();
      const before = a.client.stats.requests;
      const rec = await a.assemble(ehr.synthetic[size], { requires: SYNTHETIC_REQUIRES });
      const trips = a.client.stats.requests - before;
      const first = strategy === 'everything' || strategy === 'batch' ? 1 : SYNTHETIC_REQUIRES[0].resourceTypes.length;
      if (rec.bundle.entry?.length !== size) throw new Error(`${strategy} read ${rec.bundle.entry?.length} of ${size}`);
      log(`| ${size} | ${strategy} | ${trips} | ${trips - first} |`);
      out[`trips_${strategy}_${size}`] = trips;
    }
  }
  return out;
}

async function cpuPerRecord(ehr: RecordBenchEhr, log: (l: string) => void): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const types = SYNTHETIC_REQUIRES[0].resourceTypes;
  log('\nService CPU per record (process.cpuUsage of this process; the EHR runs in a child), median');
  log(
    '| resources | assemble CPU ms | of which record hash | raw fetch loop CPU ms | CPU ratio | assemble wall ms | raw wall ms | runs |',
  );
  log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const size of SIZES) {
    const a = assembler(ehr.baseUrl);
    const id = ehr.synthetic[size];
    await a.assemble(id, { requires: SYNTHETIC_REQUIRES }); // warm-up (JIT, discovery)
    await rawEverything(ehr.baseUrl, id, types);
    const asm: { cpuMs: number; wallMs: number }[] = [];
    const raw: { cpuMs: number; wallMs: number }[] = [];
    const deadline = performance.now() + PHASE_LIMIT_MS;
    for (let i = 0; i < RUNS[size] && performance.now() < deadline; i++) {
      raw.push(await measured(() => rawEverything(ehr.baseUrl, id, types)));
      asm.push(await measured(() => a.assemble(id, { requires: SYNTHETIC_REQUIRES })));
    }
    const last = await a.assemble(id, { requires: SYNTHETIC_REQUIRES });
    const lastResources = (last.bundle.entry ?? []).map((e) => e.resource as Resource);
    const hashRuns: number[] = [];
    for (let i = 0; i < 5; i++) hashRuns.push((await measured(async () => recordHash(lastResources))).cpuMs);
    const hashing = { cpuMs: percentile(hashRuns, 50) };
    const med = (xs: { cpuMs: number; wallMs: number }[], k: 'cpuMs' | 'wallMs') =>
      percentile(
        xs.map((x) => x[k]),
        50,
      );
    const ratio = med(asm, 'cpuMs') / med(raw, 'cpuMs');
    log(
      `| ${size} | ${med(asm, 'cpuMs').toFixed(2)} | ${hashing.cpuMs.toFixed(2)} | ${med(raw, 'cpuMs').toFixed(2)} | ${ratio.toFixed(2)} | ${med(asm, 'wallMs').toFixed(1)} | ${med(raw, 'wallMs').toFixed(1)} | ${asm.length} |`,
    );
    out[`cpu_ms_${size}`] = Number(med(asm, 'cpuMs').toFixed(2));
    out[`cpu_ratio_vs_raw_${size}`] = Number(ratio.toFixed(2));
    out[`cpu_ms_hash_${size}`] = Number(hashing.cpuMs.toFixed(2));
  }
  return out;
}

async function population(ehr: RecordBenchEhr, log: (l: string) => void): Promise<Record<string, number>> {
  const requires = [createEmbeddedModel().requires];
  const types = ['Patient', ...requires[0].resourceTypes.filter((t) => t !== 'Patient')];
  const a = assembler(ehr.baseUrl, 'auto');
  const asOf = new Date('2021-04-01T00:00:00Z');
  const pass = async (one: (id: string) => Promise<unknown>, limit: number) => {
    const t0 = performance.now();
    let done = 0;
    for (const id of ehr.patients.slice(0, limit)) {
      await one(id);
      done++;
      if (performance.now() - t0 > PHASE_LIMIT_MS) break;
    }
    return { done, ms: performance.now() - t0 };
  };
  await pass((id) => a.assemble(id, { requires, asOf }), 5); // warm-up
  // Three rounds of each, alternating, best of three each: drift on a shared machine hits both sides alike.
  const raws: { done: number; ms: number }[] = [];
  const asms: { done: number; ms: number }[] = [];
  let n = ehr.patients.length;
  for (let round = 0; round < 3; round++) {
    raws.push(await pass((id) => rawEverything(ehr.baseUrl, id, types), n));
    asms.push(await pass((id) => a.assemble(id, { requires, asOf }), raws[round].done));
    n = asms[round].done;
  }
  const best = (ps: { done: number; ms: number }[]) => Math.min(...ps.map((p) => p.ms / p.done)) * n;
  const rawMs = best(raws);
  const asm = { done: n, ms: best(asms) };
  const rawRate = (asm.done / rawMs) * 1000;
  const asmRate = (asm.done / asm.ms) * 1000;
  log(
    `\nRecords/s from the sandbox loaded with ${asm.done} population patients (embedded model's types, ${types.join(',')})`,
  );
  log('| | records/s | ms per record |');
  log('|---|---:|---:|');
  log(`| assembled (strategy auto → $everything) | ${asmRate.toFixed(1)} | ${(asm.ms / asm.done).toFixed(1)} |`);
  log(`| raw fetch loop, same pages | ${rawRate.toFixed(1)} | ${(rawMs / asm.done).toFixed(1)} |`);
  log(`overhead of assembly over the raw fetch: ${((asm.ms / rawMs - 1) * 100).toFixed(1)} % (aim ≤ 25 %)`);
  return {
    population_patients: asm.done,
    population_records_per_s: Number(asmRate.toFixed(1)),
    population_raw_records_per_s: Number(rawRate.toFixed(1)),
    population_overhead_pct: Number(((asm.ms / rawMs - 1) * 100).toFixed(1)),
  };
}

export const bench: Bench = {
  name: 'record',
  title: 'record assembly: round trips per strategy, CPU per record vs a raw fetch loop, Synthea records/s',
  async run(log) {
    const file = existsSync(POPULATION) ? POPULATION : undefined;
    const wanted = process.env.BENCH_RECORD_PATIENTS;
    const patients = wanted && wanted !== 'all' ? Number(wanted) : DEFAULT_POPULATION_PATIENTS;
    if (!file) log(`population part skipped: ${POPULATION} (../shared beside the checkout) is absent`);
    const t0 = performance.now();
    const ehr = await startRecordBenchEhr(SIZES, file, patients);
    log(
      `benchmark EHR ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${ehr.patients.length} population patients)`,
    );
    try {
      return {
        ...(await roundTrips(ehr, log)),
        ...(await cpuPerRecord(ehr, log)),
        ...(file ? await population(ehr, log) : {}),
      };
    } finally {
      ehr.child.stdin?.end();
    }
  },
};
