import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle } from '@medplum/fhirtypes';
import { loadConfig } from '../config/config.js';
import { SourceRegistry } from '../fhir/source-client.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import { OUTCOME_TYPES } from '../validation/outcomes/outcome-definitions.js';
import { buildReport } from '../validation/report.js';
import { runValidation } from '../validation/run-validation.js';
import { targetFor } from '../validation/targets.js';
import type { Bench } from './bench.js';
import { startRecordBenchEhr } from './record-bench-ehr-process.js';

const POPULATION = fileURLToPath(new URL('../../../shared/data/synthea/population.ndjson.gz', import.meta.url));
/** Both sides read one record at a time, so the ratio compares work per patient, not parallelism. */
const CONCURRENCY = 1;
const PAGE_SIZE = 1_000;

/** The baseline: a plain fetch loop over the same patients' `$everything` pages (the types validation reads). */
async function rawRead(baseUrl: string, ids: string[], types: string[]): Promise<number> {
  const t0 = performance.now();
  for (const id of ids) {
    let url: string | undefined = `${baseUrl}/Patient/${id}/$everything?_type=${types.join(',')}&_count=${PAGE_SIZE}`;
    while (url) {
      const page = (await (await fetch(url, { headers: { accept: 'application/fhir+json' } })).json()) as Bundle;
      url = page.link?.find((l) => l.relation === 'next')?.url;
    }
  }
  return performance.now() - t0;
}

export const bench: Bench = {
  name: 'validation',
  title:
    'retrospective validation (as-of record, model, outcome follow-up, report) vs the raw record read of the same population',
  async run(log): Promise<Record<string, number | string>> {
    if (!existsSync(POPULATION)) {
      log(`skipped: ${POPULATION} (../shared beside the checkout) is absent`);
      return { skipped: 'population.ndjson.gz absent' };
    }
    const wanted = Number(process.env.BENCH_VALIDATION_PATIENTS) || undefined;
    const ehr = await startRecordBenchEhr([100], POPULATION, wanted);
    const work = mkdtempSync(join(tmpdir(), 'fa-bench-validation-'));
    try {
      const model = createEmbeddedModel({ calculators: 'all' });
      const types = [...new Set([...model.requires.resourceTypes, ...OUTCOME_TYPES])];
      const targets = ['pce-2013', 'charlson-age-adjusted', 'prevent-10y-cvd'].map((p) => targetFor(p));
      const sources = new SourceRegistry(
        loadConfig({ FHIR_BASE_URL: ehr.baseUrl, RECORD_STRATEGY: 'everything' }).sources,
      );
      const selection = { kind: 'patients' as const, file: 'bench', ids: ehr.patients };
      const validate = async () => {
        const t0 = performance.now();
        const run = await runValidation(sources, {
          source: 'ehr',
          selection,
          asOf: new Date('2011-03-31T00:00:00Z'),
          completeUntil: new Date('2021-03-31T00:00:00Z'),
          model,
          targets,
          ratePerSecond: 0,
          concurrency: CONCURRENCY,
          workDir: work,
          restart: true,
        });
        for (const target of targets)
          buildReport(
            run.rows.filter((r) => r.prediction === target.prediction),
            {
              target,
              model,
              asOf: new Date('2011-03-31T00:00:00Z'),
              source: 'ehr',
              selection: 'bench',
              bootstrap: { reps: 200, seed: 1 },
            },
          );
        run.checkpoint.remove();
        return performance.now() - t0;
      };
      await rawRead(ehr.baseUrl, ehr.patients.slice(0, 5), types); // warm-up
      // Alternating rounds, best of two each: drift on a shared machine hits both sides alike.
      const raw: number[] = [];
      const val: number[] = [];
      for (let round = 0; round < 2; round++) {
        raw.push(await rawRead(ehr.baseUrl, ehr.patients, types));
        val.push(await validate());
      }
      const n = ehr.patients.length;
      const rawRate = (n / Math.min(...raw)) * 1000;
      const valRate = (n / Math.min(...val)) * 1000;
      log(
        `\n${n} population patients, ${targets.length} predictions validated (bootstrap 200 each), one record at a time`,
      );
      log('| | patients/s | ms per patient |');
      log('|---|---:|---:|');
      log(
        `| validation (read, as-of record, model, follow-up, reports) | ${valRate.toFixed(1)} | ${(1000 / valRate).toFixed(1)} |`,
      );
      log(`| raw $everything fetch loop, same types | ${rawRate.toFixed(1)} | ${(1000 / rawRate).toFixed(1)} |`);
      log(`validation throughput / raw read throughput: ${(valRate / rawRate).toFixed(2)}`);
      return {
        patients: n,
        validation_patients_per_s: Number(valRate.toFixed(1)),
        raw_read_patients_per_s: Number(rawRate.toFixed(1)),
        validation_vs_raw_ratio: Number((valRate / rawRate).toFixed(2)),
      };
    } finally {
      rmSync(work, { recursive: true, force: true });
      ehr.child.stdin?.end();
    }
  },
};
