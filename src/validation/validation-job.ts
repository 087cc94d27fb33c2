import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { ValidateJob, ValidateJobProgress, ValidateJobResult } from '../jobs/validate-queue.js';
import type { ValidationReportStore } from './report-store.js';
import { runValidation, type ValidationProgress } from './run-validation.js';
import {
  buildReports,
  type ConfiguredModel,
  parseTargetSpecs,
  resolveValidatedModel,
  selectionText,
  ValidationSpecError,
} from './validation-spec.js';

/** What a worker needs to run `$validate-model` jobs. */
export interface ValidationJobDeps {
  sources: SourceRegistry;
  /** The configured models (MODELS_FILE / MODELS), as the request was checked against. */
  configured: readonly ConfiguredModel[];
  /** Where reports are stored; absent (no DATABASE_URL): every job fails saying so. */
  store?: ValidationReportStore;
  /** Directory of the runs' checkpoint files (VALIDATION_WORK_DIR). */
  workDir: string;
  /** Records read per second per run (0 = unpaced) and at once. */
  ratePerSecond: number;
  concurrency: number;
  deidentifySecret?: string;
  logger: Logger;
}

/** Progress is written to Redis at most this often (ms), and at the end. */
const PROGRESS_EVERY_MS = 1000;

/**
 * Runs one validation, as `fhir-assess validate` does: reads every record (read only, paced, with
 * a checkpoint so an interrupted or retried run resumes), builds one report per prediction, stores
 * them in PostgreSQL together, and returns their ids. Interrupted (shutdown): back to the queue
 * without using up an attempt. Records that could not be read: a retryable failure, unless every
 * one was an EHR refusal a retry would repeat.
 */
export async function processValidationJob(
  deps: ValidationJobDeps,
  job: Job<ValidateJob, ValidateJobResult>,
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<ValidateJobResult> {
  const data = job.data;
  const store = deps.store;
  if (!store)
    throw new UnrecoverableError('validation: reports are stored in PostgreSQL and DATABASE_URL is not set here');
  const model = pinnedModel(deps.configured, data);
  const { targets } = parseTargetSpecs(data.predictions);
  const asOf = new Date(`${data.asOf}T00:00:00Z`);
  const completeUntil = data.completeUntil ? new Date(`${data.completeUntil}T00:00:00Z`) : undefined;
  const progress = throttledProgress(job);
  const run = await runValidation(deps.sources, {
    source: data.source,
    selection: data.selection,
    asOf,
    completeUntil,
    model,
    targets,
    ratePerSecond: deps.ratePerSecond,
    concurrency: deps.concurrency,
    workDir: deps.workDir,
    signal,
    onProgress: progress,
    deidentifySecret: deps.deidentifySecret,
  });
  if (run.progress.phase === 'interrupted') {
    deps.logger.info({ jobId: job.id, done: run.progress.done }, 'validation interrupted; requeued to resume');
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }
  if (run.failures.length) {
    const reasons = run.failures.map((f) => `${f.count} × ${f.reason}`).join('; ');
    const message = `validation: ${run.progress.failed} patient record(s) could not be read, no report written: ${reasons}`;
    throw run.retryable ? new Error(message) : new UnrecoverableError(message);
  }
  await job.updateProgress({ ...progressOf(run.progress), phase: 'reporting' } satisfies ValidateJobProgress);
  const reports = buildReports(run.rows, targets, {
    model,
    asOf,
    completeUntil,
    source: data.source,
    selection: selectionText(data.selection),
    bootstrap: data.bootstrap,
  });
  await store.saveAll(reports);
  run.checkpoint.remove();
  return { reports: reports.map((r) => ({ id: r.id, prediction: r.model.prediction })), patients: run.rows.length };
}

/** The model version the request was accepted for; gone from the configuration since: nothing to run. */
function pinnedModel(configured: readonly ConfiguredModel[], data: ValidateJob) {
  try {
    const { targets } = parseTargetSpecs(data.predictions);
    const sameId = configured.filter((c) => c.model.id === data.model.id);
    return resolveValidatedModel(sameId, targets, data.model.version);
  } catch (err) {
    if (!(err instanceof ValidationSpecError)) throw err;
  }
  throw new UnrecoverableError(
    `validation: model ${data.model.id}@${data.model.version} is no longer configured for ${data.predictions.join(', ')}; send the request again`,
  );
}

function progressOf(p: ValidationProgress): ValidateJobProgress {
  return { phase: 'reading', done: p.done, failed: p.failed, total: p.total, resumed: p.resumed };
}

/** `job.updateProgress` at most once a second (each is a Redis write); failures to report are not fatal. */
function throttledProgress(job: Job<ValidateJob, ValidateJobResult>) {
  let last = 0;
  return (p: ValidationProgress) => {
    if (Date.now() - last < PROGRESS_EVERY_MS && p.phase === 'reading') return;
    last = Date.now();
    void job.updateProgress(progressOf(p)).catch(() => {});
  };
}
