import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Selection } from '../backfill/choose-enumerator.js';
import { type Config, loadConfig } from '../config/config.js';
import { openMigratedDatabase } from '../db/open-migrated.js';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { SourceRegistry } from '../fhir/source-client.js';
import type { Model } from '../models/model.js';
import { createLogger } from '../util/logger.js';
import type { ValidationReport } from '../validation/report.js';
import { reportDocument } from '../validation/report-html.js';
import { ValidationReportStore } from '../validation/report-store.js';
import { runValidation } from '../validation/run-validation.js';
import type { ValidationTarget } from '../validation/targets.js';
import { validationProgress } from '../validation/validation-progress.js';
import {
  buildReports,
  configuredModels,
  parseHorizonYears,
  parseTargetSpecs,
  resolveValidatedModel,
  selectionText,
  ValidationSpecError,
} from '../validation/validation-spec.js';
import { intOption, parse, UsageError } from './args.js';
import { type CliIo, EXIT_ASSESSMENTS_FAILED, EXIT_INTERRUPTED, readPatientsFile } from './backfill.js';

/** Default read rate, patients per second: gentle on a production EHR, like the backfill's. */
const DEFAULT_RATE_PER_S = 10;

const OPTIONS = {
  model: { type: 'string' },
  'as-of': { type: 'string' },
  'records-complete-until': { type: 'string' },
  horizon: { type: 'string' },
  population: { type: 'string' },
  group: { type: 'string' },
  patients: { type: 'string' },
  out: { type: 'string' },
  rate: { type: 'string' },
  concurrency: { type: 'string' },
  bootstrap: { type: 'string' },
  seed: { type: 'string' },
  source: { type: 'string' },
  restart: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

function parseDate(v: string | undefined, option: string, what: string): Date {
  if (!v || !/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(v)))
    throw new UsageError(`--${option} must be a date YYYY-MM-DD (${what}), got '${v ?? ''}'`);
  return new Date(`${v}T00:00:00Z`);
}

function parseSelection(v: Values): Selection {
  const population = v.population as string | undefined;
  const group = (v.group as string | undefined) ?? /^Group\/(.+)$/.exec(population ?? '')?.[1];
  if (v.patients !== undefined)
    return { kind: 'patients', file: v.patients as string, ids: readPatientsFile(v.patients as string) };
  if (group !== undefined) {
    if (!FHIR_ID.test(group)) throw new UsageError(`the Group must be a FHIR id, got '${group}'`);
    return { kind: 'group', id: group };
  }
  if (population === undefined || population === 'all') return { kind: 'all' };
  throw new UsageError(`--population must be all or Group/ID, got '${population}'`);
}

/** The predictions `--model` names and the configured model that computes them (usage errors say what can). */
function parseTargets(v: Values, cfg: Config): { targets: ValidationTarget[]; model: Model } {
  const spec = v.model as string | undefined;
  if (!spec) throw new UsageError('--model is required, e.g. --model pce-2013 or --model pce-2013@0.2.0');
  let horizon: number | undefined;
  try {
    horizon = parseHorizonYears(v.horizon as string | undefined);
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`);
  }
  try {
    const { targets, version } = parseTargetSpecs([spec], horizon);
    return { targets, model: resolveValidatedModel(configuredModels(cfg), targets, version) };
  } catch (err) {
    if (err instanceof ValidationSpecError) throw new UsageError(`--model: ${err.message}`);
    throw err;
  }
}

function summary(r: ValidationReport, files: string[], stored: string): string {
  const m = r.overall;
  const ci = (k: 'oe' | 'cUno' | 'slope' | 'citl') =>
    m.intervals[k] ? ` (95 % CI ${m.intervals[k].lo.toFixed(2)}–${m.intervals[k].hi.toFixed(2)})` : '';
  const f = (x: number | undefined, d = 2) => (x === undefined ? 'n/a' : x.toFixed(d));
  const top = r.counts.exclusions
    .slice(0, 4)
    .map((e) => `${e.count} ${e.reason}`)
    .join('; ');
  return [
    `${r.model.prediction} (${r.model.id} ${r.model.version}): ${r.outcome.title} within ${r.horizonYears} y of ${r.asOf}`,
    `  patients ${r.counts.patients}: assessed ${r.counts.assessed}, excluded ${r.counts.excluded}${top ? ` (${top})` : ''}`,
    `  events ${r.counts.events}, censored before the horizon ${r.counts.censored}; observed risk ${(m.observedRisk * 100).toFixed(1)} % vs mean predicted ${(m.expectedRisk * 100).toFixed(1)} %`,
    `  O/E ${f(m.oe)}${ci('oe')}`,
    `  C-statistic ${f(m.cUno)}${ci('cUno')} (Uno, IPCW; Harrell ${f(m.cHarrell)})`,
    `  calibration slope ${f(m.slope)}${ci('slope')}, in-the-large ${f(m.citl)}${ci('citl')}, Brier ${f(m.brier, 4)}`,
    ...r.warnings.map((w) => `  note: ${w}`),
    `  report ${r.id}: ${files.join(', ')}`,
    `  ${stored}`,
  ].join('\n');
}

/**
 * `fhir-assess validate`: retrospective validation of predictions on the EHR's own records (read
 * only, paced, resumable). Writes a JSON and an HTML report per prediction, stores them in PostgreSQL
 * when DATABASE_URL is set, and prints the headline numbers.
 * @returns 0, 3 when records could not be read (run again to retry them), 130 when interrupted
 */
export async function validateCommand(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  io: CliIo = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const { values: v } = parse(argv, OPTIONS);
  const asOf = parseDate(v['as-of'] as string | undefined, 'as-of', 'the day the records are rolled back to');
  const until = v['records-complete-until'] as string | undefined;
  const completeUntil =
    until === undefined
      ? undefined
      : parseDate(until, 'records-complete-until', 'the data extraction date up to which records are complete');
  if (completeUntil && completeUntil <= asOf) throw new UsageError('--records-complete-until must be after --as-of');
  const cfg = loadConfig(env);
  const { targets, model } = parseTargets(v, cfg);
  const selection = parseSelection(v);
  const source = (v.source as string | undefined) ?? cfg.sources[0].name;
  if (!cfg.sources.some((s) => s.name === source)) throw new UsageError(`--source: unknown source '${source}'`);
  const outDir = resolve((v.out as string | undefined) ?? 'validation-reports');
  const rate = Number(
    /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec((v.rate as string | undefined) ?? String(DEFAULT_RATE_PER_S))?.[1],
  );
  if (!Number.isFinite(rate))
    throw new UsageError(`--rate must be patients per second, e.g. 5 or 5/s, got '${v.rate}'`);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const progress = validationProgress(io.err, v.quiet === true);
  try {
    const run = await runValidation(new SourceRegistry(cfg.sources), {
      source,
      selection,
      asOf,
      completeUntil,
      model,
      targets,
      ratePerSecond: rate,
      concurrency: Math.max(1, intOption(v.concurrency as string | undefined, 'concurrency', 4)),
      workDir: outDir,
      restart: v.restart === true,
      signal: controller.signal,
      onProgress: (p) => progress.update(p),
      deidentifySecret: cfg.DEIDENTIFY_SECRET,
    });
    progress.stop();
    if (run.progress.phase === 'interrupted') {
      io.out.write(`interrupted after ${run.progress.done} patients: run the same command again to resume\n`);
      return EXIT_INTERRUPTED;
    }
    if (run.failures.length) {
      io.out.write(`${run.progress.failed} patient record(s) could not be read; no report written:\n`);
      for (const f of run.failures) io.out.write(`  ${f.count} × ${f.reason}\n`);
      io.out.write(
        'run the same command again once the cause is fixed: finished patients are kept and not read again\n',
      );
      return EXIT_ASSESSMENTS_FAILED;
    }
    const bootstrap = {
      reps: intOption(v.bootstrap as string | undefined, 'bootstrap', 200),
      seed: intOption(v.seed as string | undefined, 'seed', 1),
    };
    const reports = buildReports(run.rows, targets, {
      model,
      asOf,
      completeUntil,
      source,
      selection: selectionText(selection),
      bootstrap,
    });
    await storeAndPrint(reports, cfg, outDir, io);
    run.checkpoint.remove();
    return 0;
  } finally {
    progress.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function storeAndPrint(reports: ValidationReport[], cfg: Config, outDir: string, io: CliIo): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const db = cfg.DATABASE_URL ? await openMigratedDatabase(cfg.DATABASE_URL, createLogger('warn')) : undefined;
  try {
    for (const r of reports) {
      const files = [join(outDir, `${r.id}.json`), join(outDir, `${r.id}.html`)];
      writeFileSync(files[0], `${JSON.stringify(r, null, 2)}\n`);
      writeFileSync(files[1], reportDocument(r));
      let stored =
        'not stored: DATABASE_URL is not set, so only the files above exist and no promotion can cite this report';
      if (db) {
        await new ValidationReportStore(db).save(r);
        stored = `stored in PostgreSQL as ${r.id} (cite this id as evidence)`;
      }
      io.out.write(`${summary(r, files, stored)}\n\n`);
    }
  } finally {
    await db?.end();
  }
}
