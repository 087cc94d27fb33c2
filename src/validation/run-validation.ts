import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { chooseEnumerator, type Selection } from '../backfill/choose-enumerator.js';
import { Pacer } from '../backfill/pacer.js';
import { FhirHttpError } from '../fhir/fhir-client.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { Model } from '../models/model.js';
import { DEFAULT_PAGE_SIZE, RecordAssembler } from '../record/assemble-record.js';
import { DEFAULT_MAX_RESOURCES } from '../record/record-bounds.js';
import { CheckpointFile } from './checkpoint-file.js';
import { evaluatePatient, type PatientRow } from './evaluate-patient.js';
import { OUTCOME_TYPES } from './outcomes/outcome-definitions.js';
import type { ValidationTarget } from './targets.js';

export interface ValidationOptions {
  source: string;
  selection: Selection;
  asOf: Date;
  /** Records complete for every living patient until this date (see followUp); absent: last contact. */
  completeUntil?: Date;
  model: Model;
  targets: ValidationTarget[];
  /** Patients read per second (0 = unpaced). */
  ratePerSecond: number;
  /** Records read at once. */
  concurrency: number;
  /** Directory of the checkpoint file. */
  workDir: string;
  restart?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: ValidationProgress) => void;
  deidentifySecret?: string;
}

export interface ValidationProgress {
  runId: string;
  phase: 'reading' | 'done' | 'interrupted';
  /** How the population is listed (the enumerator's label). */
  enumeration?: string;
  total?: number;
  /** Patients finished (resumed ones included). */
  done: number;
  /** Patients whose record could not be read (retried by the next run). */
  failed: number;
  /** Patients taken from the checkpoint of an interrupted run. */
  resumed: number;
}

export interface ValidationRun {
  progress: ValidationProgress;
  /** Every finished patient's rows (one per target). */
  rows: PatientRow[];
  /** Why records could not be read: grouped messages with a count (ids, paths and statuses only). */
  failures: { reason: string; count: number }[];
  /** False when every failure was an EHR refusal (a 4xx other than 408/429) that a retry would repeat. */
  retryable: boolean;
  checkpoint: CheckpointFile;
}

/** The run id: the same command resumes the same run. */
export function validationRunId(
  o: Pick<ValidationOptions, 'source' | 'selection' | 'asOf' | 'completeUntil' | 'model' | 'targets'>,
): string {
  const sel = o.selection.kind === 'patients' ? { kind: 'patients', ids: o.selection.ids } : o.selection;
  const key = [
    o.source,
    sel,
    o.asOf.toISOString(),
    `${o.model.id}@${o.model.version}`,
    o.targets.map((t) => t.prediction),
    // Follow-up (and so every row) depends on it; appended only when set so earlier run ids stay valid.
    ...(o.completeUntil ? [o.completeUntil.toISOString()] : []),
  ];
  return `val-${createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16)}`;
}

/**
 * Reads each patient's full record from the EHR (read-only: nothing is ever written there), paced
 * and `concurrency` at a time, evaluates every target on it, and appends the rows to the checkpoint.
 */
export async function runValidation(sources: SourceRegistry, opts: ValidationOptions): Promise<ValidationRun> {
  const runId = validationRunId(opts);
  const checkpoint = new CheckpointFile(join(opts.workDir, `.${runId}.checkpoint.ndjson`));
  if (opts.restart) checkpoint.remove();
  const done = checkpoint.load();
  const { source, client } = sources.get(opts.source);
  const assembler = new RecordAssembler(client, {
    strategy: source.recordStrategy,
    source: source.name,
    pageSize: source.record?.pageSize ?? DEFAULT_PAGE_SIZE,
    maxResources: source.record?.maxResources ?? DEFAULT_MAX_RESOURCES,
  });
  const requires = [opts.model.requires, { resourceTypes: OUTCOME_TYPES }];
  const progress: ValidationProgress = { runId, phase: 'reading', done: done.size, failed: 0, resumed: done.size };
  const failures = new Map<string, number>();
  let retryable = false;
  const enumerator = await chooseEnumerator({
    sources,
    source: opts.source,
    selection: opts.selection,
    types: ['Patient'],
    strategy: opts.selection.kind === 'patients' ? 'list' : 'search',
  });
  progress.enumeration = enumerator.label;
  const pacer = new Pacer(opts.ratePerSecond);
  const inFlight = new Set<Promise<void>>();
  const one = async (patientId: string) => {
    try {
      const record = await assembler.assemble(patientId, { requires, asOf: opts.asOf });
      const when = { asOf: opts.asOf, completeUntil: opts.completeUntil };
      const rows = await evaluatePatient(opts.model, record, when, opts.targets, opts.deidentifySecret);
      done.set(patientId, rows);
      checkpoint.append(patientId, rows);
      progress.done++;
    } catch (err) {
      // The EHR's status and path say what failed; the patient id is left out so that reasons group.
      const text =
        err instanceof FhirHttpError
          ? `EHR answered HTTP ${err.status} at ${err.url}: ${err.message}`
          : (err as Error).message;
      const reason = text.replaceAll(patientId, '{id}');
      failures.set(reason, (failures.get(reason) ?? 0) + 1);
      if (!(err instanceof FhirHttpError) || err.retryable) retryable = true;
      progress.failed++;
    }
    opts.onProgress?.({ ...progress, total: progress.total ?? enumerator.total });
  };
  const seen = new Set<string>();
  for await (const item of enumerator.iterate(undefined, opts.signal)) {
    if (opts.signal?.aborted) break;
    const id = item.patientId;
    if (!id || seen.has(id)) continue;
    seen.add(id);
    if (done.has(id)) continue;
    while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
    await pacer.next(opts.signal);
    if (opts.signal?.aborted) break;
    const p = one(id).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  progress.total = seen.size;
  progress.phase = opts.signal?.aborted ? 'interrupted' : 'done';
  opts.onProgress?.(progress);
  const rows = [...seen].flatMap((id) => done.get(id) ?? []);
  const grouped = [...failures].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);
  return { progress, rows, failures: grouped, retryable, checkpoint };
}
