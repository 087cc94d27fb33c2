import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { Bundle } from '@medplum/fhirtypes';
import { CALCULATORS } from '../models/calculators/index.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import type { Model, PatientRecord } from '../models/model.js';
import { recordFromBundle } from '../models/record-from-bundle.js';
import { DEFAULT_PATIENTS_FILE } from '../paths.js';
import type { Bench } from './bench.js';

/** The 80 curated Synthea patients (../shared); the 16 shipped ones when ../shared is absent. */
const SHARED = fileURLToPath(new URL('../../../shared/data/synthea/patients-80.ndjson.gz', import.meta.url));
const AS_OF = new Date('2021-04-01T00:00:00Z');
/** Timed passes over all records per measurement, and a time cap per measurement (ms). */
const PASSES = 30;
const PHASE_LIMIT_MS = 10_000;
const WARMUP_PASSES = 3;

/** Runs `pass` up to PASSES times (bounded by PHASE_LIMIT_MS); returns µs per record. */
async function timePerRecord(records: number, pass: () => Promise<void> | void): Promise<number> {
  for (let i = 0; i < WARMUP_PASSES; i++) await pass();
  const start = performance.now();
  let done = 0;
  while (done < PASSES && performance.now() - start < PHASE_LIMIT_MS) {
    await pass();
    done++;
  }
  return ((performance.now() - start) * 1000) / (done * records);
}

/** A shallow copy of the record whose Bundle object is new, so the per-Bundle index is rebuilt ("cold"). */
const cold = (r: PatientRecord): PatientRecord => ({ ...r, bundle: { ...r.bundle } });

function load(): { file: string; lines: string[] } {
  const file = existsSync(SHARED) ? SHARED : DEFAULT_PATIENTS_FILE;
  return { file, lines: gunzipSync(readFileSync(file)).toString('utf8').split('\n').filter(Boolean) };
}

/**
 * µs per record of each calculator, called directly and interleaved record by record (the order the model runs
 * them, indexes warm), so that every calculator sees the same machine load and the shares add up.
 */
function timeEachCalculator(records: PatientRecord[]): Record<string, number> {
  const total = new Map(CALCULATORS.map((c) => [c.id, 0]));
  const start = performance.now();
  let passes = 0;
  for (let pass = 0; pass < WARMUP_PASSES + PASSES && performance.now() - start < PHASE_LIMIT_MS; pass++) {
    for (const r of records) {
      for (const calc of CALCULATORS) {
        const t0 = performance.now();
        calc.compute(r, { asOf: AS_OF });
        if (pass >= WARMUP_PASSES) total.set(calc.id, (total.get(calc.id) ?? 0) + performance.now() - t0);
      }
    }
    if (pass >= WARMUP_PASSES) passes++;
  }
  return Object.fromEntries([...total].map(([id, ms]) => [id, (ms * 1000) / (Math.max(1, passes) * records.length)]));
}

async function assessAll(model: Model, records: PatientRecord[], copy: boolean): Promise<void> {
  for (const r of records) await model.assess(copy ? cold(r) : r, { asOf: AS_OF });
}

/**
 * Embedded-model throughput: the full calculator library over the Synthea records, pre-parsed (CPU only),
 * with per-calculator cost. Ratios compare, in the same run, the library with the PCE alone, each calculator
 * with the whole, and the assessment with JSON-parsing the same record.
 */
export const bench: Bench = {
  name: 'models',
  title: 'embedded calculator library over Synthea records (CPU only): assessments/s, µs per calculator',
  async run(log) {
    const { file, lines } = load();
    const records = lines.map((l) => recordFromBundle(JSON.parse(l) as Bundle));
    log(`records: ${records.length} from ${file}; as-of ${AS_OF.toISOString().slice(0, 10)}; up to ${PASSES} passes`);
    const library = createEmbeddedModel({ calculators: 'all' });
    const pce = createEmbeddedModel();
    const parseUs = await timePerRecord(lines.length, () => {
      for (const l of lines) JSON.parse(l);
    });
    const libraryColdUs = await timePerRecord(records.length, () => assessAll(library, records, true));
    const libraryWarmUs = await timePerRecord(records.length, () => assessAll(library, records, false));
    const pceColdUs = await timePerRecord(records.length, () => assessAll(pce, records, true));
    const perCalc = timeEachCalculator(records);
    const sumCalcUs = Object.values(perCalc).reduce((a, b) => a + b, 0);
    log('');
    log('| measurement | µs per record | ratio |');
    log('|---|---|---|');
    log(`| JSON.parse of the record (baseline) | ${parseUs.toFixed(0)} | 1.00 |`);
    log(
      `| full library, cold (index built per record) | ${libraryColdUs.toFixed(0)} | ${(libraryColdUs / parseUs).toFixed(2)} × parse |`,
    );
    log(
      `| full library, warm (index cached) | ${libraryWarmUs.toFixed(0)} | ${(libraryWarmUs / libraryColdUs).toFixed(2)} × cold |`,
    );
    log(`| PCE only, cold | ${pceColdUs.toFixed(0)} | library ${(libraryColdUs / pceColdUs).toFixed(2)} × PCE |`);
    for (const [id, us] of Object.entries(perCalc)) {
      log(
        `| calculator ${id} (warm, interleaved) | ${us.toFixed(1)} | ${((us / sumCalcUs) * 100).toFixed(1)} % of calculators |`,
      );
    }
    log(
      `| sum of calculators (warm) | ${sumCalcUs.toFixed(0)} | ${(sumCalcUs / libraryWarmUs).toFixed(2)} × library warm |`,
    );
    log('');
    log(
      `full library: ${(1e6 / libraryColdUs).toFixed(0)} assessments/s cold, ${(1e6 / libraryWarmUs).toFixed(0)} warm (one core)`,
    );
    return {
      records: records.length,
      assessmentsPerSecCold: Math.round(1e6 / libraryColdUs),
      assessmentsPerSecWarm: Math.round(1e6 / libraryWarmUs),
      libraryVsParse: +(libraryColdUs / parseUs).toFixed(2),
      libraryVsPce: +(libraryColdUs / pceColdUs).toFixed(2),
      calculatorsVsLibraryWarm: +(sumCalcUs / libraryWarmUs).toFixed(2),
      ...Object.fromEntries(Object.entries(perCalc).map(([id, us]) => [`us:${id}`, +us.toFixed(1)])),
    };
  },
};
