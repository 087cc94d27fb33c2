import { hostname } from 'node:os';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { type AssessDeps, assessPatient } from '../assessment/assess-patient.js';
import { ForeignUrlError } from '../fhir/base-url-guard.js';
import { AuthError, FhirHttpError, FhirResponseTooLargeError } from '../fhir/fhir-client.js';
import { type ChangeEvent, ChangeEventSchema } from '../intake/change-event.js';
import { isPermanentModelError } from '../models/remote/errors.js';
import { jobLogger } from '../observability/log-fields.js';
import { queueTelemetry } from '../observability/tracing.js';
import { processValidationJob, type ValidationJobDeps } from '../validation/validation-job.js';
import { WriteBackValidationError } from '../writeback/validate.js';
import { type AssessLimits, runWithSourceLimit } from './assess-gate.js';
import { type AssessJob, type AssessJobResult, AssessJobSchema } from './assess-queue.js';
import { type EventDeps, type EventOutcome, processChangeEvent } from './process-change-event.js';
import { ASSESS_QUEUE, EVENTS_QUEUE, VALIDATE_QUEUE } from './queue-names.js';
import { workerConnection } from './redis-connection.js';
import { type ValidateJob, type ValidateJobResult, ValidateJobSchema } from './validate-queue.js';
import { DEFAULT_STALL_SETTINGS, type StallSettings } from './worker-settings.js';

export interface WorkerOptions {
  redisUrl: string;
  prefix: string;
  eventsConcurrency: number;
  assessConcurrency: number;
  events: EventDeps;
  assess: AssessDeps;
  logger: Logger;
  /** Per-source EHR rate limit applied before each assessment (absent: unlimited). */
  limits?: AssessLimits;
  /** Crashed-worker recovery timing (default DEFAULT_STALL_SETTINGS). */
  stall?: Partial<StallSettings>;
  /** `$validate-model` runs (absent: this process runs none). */
  validation?: ValidationJobDeps;
}

export interface RunningWorkers {
  events: Worker<ChangeEvent, EventOutcome>;
  assess: Worker<AssessJob, AssessJobResult>;
  validate?: Worker<ValidateJob, ValidateJobResult>;
  close(): Promise<void>;
}

/**
 * Permanent failures (a 4xx other than 408/429 from the EHR, a URL outside the base, bad job data)
 * are not retried: retrying cannot fix them and would only repeat the request.
 */
async function classify<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    // The messages' prefixes are what jobs/job-failure.ts explains failed jobs from (status URL, backfill).
    if (err instanceof FhirHttpError) {
      const message = `EHR ${err.retryable ? 'failed' : 'refused'} (HTTP ${err.status}) at ${err.url}: ${err.message}`;
      if (!err.retryable) throw new UnrecoverableError(message);
      err.message = message; // retried as itself, with the status and path in the reason kept if it fails for good
      throw err;
    }
    if (err instanceof ForeignUrlError) throw new UnrecoverableError(`${err.name}: ${err.message}`);
    // Refused credentials and oversized answers repeat on every retry (token endpoint 5xx/429 stay retryable).
    if ((err instanceof AuthError || err instanceof FhirResponseTooLargeError) && !err.retryable)
      throw new UnrecoverableError(`${err.name}: ${err.message}`);
    // Invalid output fails the same way on every retry; nothing was written.
    if (err instanceof WriteBackValidationError)
      throw new UnrecoverableError(`write-back validation failed, nothing written: ${err.message}`);
    // A hosted model's malformed, refused, truncated or over-budget reply repeats on retry; nothing was written.
    if (isPermanentModelError(err)) throw new UnrecoverableError(`hosted model (${err.kind}): ${err.message}`);
    throw err;
  }
}

/** Recorded on each job it takes (`processedBy`): which pod and process ran a job, in the dashboard and in tests. */
const WORKER_NAME = `${hostname()}:${process.pid}`;

/** Starts the events and assess workers. Any number of processes may run them against one Redis. */
export function startWorkers(opts: WorkerOptions): RunningWorkers {
  const stall = { ...DEFAULT_STALL_SETTINGS, ...opts.stall };
  const events = new Worker<ChangeEvent, EventOutcome>(
    EVENTS_QUEUE,
    (job: Job<ChangeEvent>) =>
      classify(() =>
        processChangeEvent(
          { ...opts.events, logger: jobLogger(opts.events.logger, EVENTS_QUEUE, job) },
          parseOrFail(ChangeEventSchema, job.data),
        ),
      ),
    {
      connection: workerConnection(opts.redisUrl),
      prefix: opts.prefix,
      concurrency: opts.eventsConcurrency,
      telemetry: queueTelemetry(),
      name: WORKER_NAME,
      ...stall,
    },
  );
  const assess = new Worker<AssessJob, AssessJobResult>(
    ASSESS_QUEUE,
    (job: Job<AssessJob>, token?: string) => {
      const data = parseOrFail(AssessJobSchema, job.data);
      return runWithSourceLimit(job, token, data.source, opts.limits, () =>
        classify(() =>
          assessPatient(
            { ...opts.assess, logger: jobLogger(opts.logger, ASSESS_QUEUE, job) },
            data.source,
            data.patientId,
            {
              models: data.models,
              force: data.force,
              job: { id: job.id, requestId: data.requestId, trigger: data.trigger },
            },
          ),
        ),
      );
    },
    {
      connection: workerConnection(opts.redisUrl),
      prefix: opts.prefix,
      concurrency: opts.assessConcurrency,
      telemetry: queueTelemetry(),
      name: WORKER_NAME,
      ...stall,
    },
  );
  const validate = opts.validation && startValidateWorker(opts, opts.validation, stall);
  for (const w of [events, assess, ...(validate ? [validate] : [])]) {
    w.on('failed', (job, err) =>
      opts.logger.warn({ queue: w.name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'job failed'),
    );
    w.on('error', (err) => opts.logger.error({ queue: w.name, err: err.message }, 'worker error'));
  }
  return {
    events,
    assess,
    validate,
    close: async () => {
      // A validation run can take hours: interrupt it (it goes back to the queue and resumes from its checkpoint).
      validate?.cancelAllJobs('shutdown');
      // Events first: in-flight events may still enqueue assessments.
      await events.close();
      await assess.close();
      await validate?.close();
    },
  };
}

/** One run at a time per process: a run already reads `VALIDATION_CONCURRENCY` records at once. */
function startValidateWorker(opts: WorkerOptions, deps: ValidationJobDeps, stall: StallSettings) {
  return new Worker<ValidateJob, ValidateJobResult>(
    VALIDATE_QUEUE,
    (job, token, signal) => {
      parseOrFail(ValidateJobSchema, job.data);
      const logger = jobLogger(opts.logger, VALIDATE_QUEUE, job);
      return classify(() => processValidationJob({ ...deps, logger }, job, token, signal));
    },
    { connection: workerConnection(opts.redisUrl), prefix: opts.prefix, concurrency: 1, ...stall },
  );
}

function parseOrFail<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Error } },
  data: unknown,
): T {
  const r = schema.safeParse(data);
  if (!r.success) throw new UnrecoverableError(`invalid job data: ${r.error.message}`);
  return r.data;
}
