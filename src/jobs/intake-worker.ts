import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { FhirHttpError } from '../fhir/fhir-client.js';
import { queueTelemetry } from '../observability/tracing.js';
import { pollSinceWatermark } from './catch-up.js';
import { INTAKE_QUEUE, type IntakeJob, IntakeJobSchema } from './intake-queue.js';
import { type IntakeDeps, runWatchdog } from './intake-watchdog.js';
import { recoverGap } from './recover-gap.js';
import { workerConnection } from './redis-connection.js';

/** Intake maintenance jobs in flight per process: they are EHR-bound and few. */
const INTAKE_CONCURRENCY = 2;

/** Runs one intake maintenance job (exported so tests can run one deterministically). */
export async function execIntakeJob(deps: IntakeDeps, data: IntakeJob): Promise<unknown> {
  switch (data.kind) {
    case 'recover-gap':
      return recoverGap(deps, data);
    case 'poll':
    case 'reconcile':
      return pollSinceWatermark(deps, data.source, data.kind);
    case 'watchdog':
      return runWatchdog(deps, data.source);
  }
}

/** Starts the intake maintenance worker; any number of processes may run it against one Redis. */
export function startIntakeWorker(
  deps: IntakeDeps,
  opts: { redisUrl: string; prefix: string; lockDurationMs?: number },
): Worker<IntakeJob> {
  const worker = new Worker<IntakeJob>(
    INTAKE_QUEUE,
    async (job: Job<IntakeJob>) => {
      const parsed = IntakeJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid intake job data: ${parsed.error.message}`);
      try {
        return await execIntakeJob(deps, parsed.data);
      } catch (err) {
        // The EHR refusing (4xx other than 408/429) will refuse again: do not hammer it.
        if (err instanceof FhirHttpError && !err.retryable) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    {
      connection: workerConnection(opts.redisUrl),
      prefix: opts.prefix,
      concurrency: INTAKE_CONCURRENCY,
      telemetry: queueTelemetry(),
      ...(opts.lockDurationMs ? { lockDuration: opts.lockDurationMs, stalledInterval: opts.lockDurationMs } : {}),
    },
  );
  worker.on('failed', (job, err) =>
    deps.logger.warn({ queue: INTAKE_QUEUE, jobId: job?.id, kind: job?.data.kind, err: err.message }, 'job failed'),
  );
  worker.on('error', (err) => deps.logger.error({ queue: INTAKE_QUEUE, err: err.message }, 'worker error'));
  return worker;
}
