import type { OperationOutcome, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { Job } from 'bullmq';
import type { ValidateJob, ValidateJobProgress, ValidateJobResult } from '../jobs/validate-queue.js';
import type { ValidationReport } from '../validation/report.js';

/**
 * What the `$validate-model` status URL answers with: the finished run as a FHIR Parameters (one
 * `report` per prediction: the stored id a promotion cites, the headline numbers, the whole JSON
 * report as an attachment and the console page that draws it), its progress as one ASCII line, or
 * its failure as an OperationOutcome.
 */
export function validationResult(jobId: string, reports: ValidationReport[], publicBase: string): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [{ name: 'run', valueString: jobId }, ...reports.map((r) => reportParameter(r, publicBase))],
  };
}

function reportParameter(r: ValidationReport, publicBase: string): ParametersParameter {
  const m = r.overall;
  const decimal = (name: string, v: number | undefined): ParametersParameter[] =>
    v === undefined || !Number.isFinite(v) ? [] : [{ name, valueDecimal: v }];
  return {
    name: 'report',
    part: [
      { name: 'id', valueId: r.id },
      { name: 'prediction', valueString: r.model.prediction },
      { name: 'model', valueString: `${r.model.id}@${r.model.version}` },
      { name: 'asOf', valueDate: r.asOf },
      { name: 'horizonYears', valueInteger: r.horizonYears },
      { name: 'patients', valueInteger: r.counts.patients },
      { name: 'assessed', valueInteger: r.counts.assessed },
      { name: 'excluded', valueInteger: r.counts.excluded },
      { name: 'events', valueInteger: r.counts.events },
      ...decimal('observedExpected', m.oe),
      ...decimal('cStatistic', m.cUno),
      ...decimal('calibrationSlope', m.slope),
      ...decimal('brier', m.brier),
      ...r.warnings.map((w) => ({ name: 'warning', valueString: w })),
      {
        name: 'json',
        valueAttachment: {
          contentType: 'application/json',
          title: `${r.id}.json`,
          data: Buffer.from(JSON.stringify(r)).toString('base64'),
        },
      },
      { name: 'html', valueUrl: `${publicBase}/console/models/reports/${r.id}` },
    ],
  };
}

/** `X-Progress` of a queued or running job (ASCII only: it is a header). */
export function progressText(state: string, job: Job<ValidateJob, ValidateJobResult>): string {
  const p = job.progress as Partial<ValidateJobProgress> | number | undefined;
  const read = typeof p === 'object' && p && typeof p.done === 'number' ? p : undefined;
  const counts = read
    ? `read ${read.done}${read.total !== undefined ? ` of ${read.total}` : ''} patients` +
      `${read.resumed ? ` (${read.resumed} from the checkpoint)` : ''}${read.failed ? `, ${read.failed} failed` : ''}`
    : undefined;
  if (state === 'active') return read?.phase === 'reporting' ? `${counts}; writing the reports` : (counts ?? 'started');
  if (job.attemptsMade > 0 && job.failedReason)
    return `attempt ${job.attemptsMade} failed, retrying${counts ? ` (${counts})` : ''}`;
  return counts ? `waiting to resume (${counts})` : 'queued';
}

/**
 * A failed run as an OperationOutcome: 502 when the EHR failed or refused (records or the population
 * could not be read), 500 for anything else; what to do next is always the same request again.
 */
export function failedRunOutcome(
  jobId: string,
  job: Pick<Job, 'failedReason' | 'attemptsMade'>,
): {
  status: number;
  body: OperationOutcome;
} {
  const reason = (job.failedReason ?? '').trim() || 'no reason recorded';
  const upstream = /^(EHR (refused|failed)|validation: \d+ patient record)/.test(reason);
  const status = upstream ? 502 : 500;
  const attempts = `${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'}`;
  const next = upstream
    ? 'Check that the EHR answers and that our credentials may read these records'
    : 'Check the service log for this run id';
  const diagnostics =
    `validation run ${jobId} failed after ${attempts}: ${reason}. ${next}, then POST the same $validate-model ` +
    'again: patients already read are kept and not read again';
  return {
    status,
    body: {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: upstream ? 'transient' : 'exception', diagnostics }],
    },
  };
}
