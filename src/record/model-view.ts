import type { Model, ModelOutput, PatientRecord } from '../models/model.js';
import { deidentifyKey, deidentifyRecord } from './deidentify.js';
import { relinkOutput } from './relink.js';

/** What one model is shown, and how its answer is mapped back to the real record. */
export interface ModelView {
  record: PatientRecord;
  asOf: Date;
  relink(output: ModelOutput): ModelOutput;
}

/**
 * The record as a model may see it: identified for models inside the trust boundary, de-identified
 * (with the as-of date shifted like the record) for the others. The pseudonym map stays in this
 * closure, i.e. in the worker's memory for the job.
 * @param secret - DEIDENTIFY_SECRET (absent: a random key for this process)
 */
export function viewFor(
  model: Pick<Model, 'mayReceiveIdentifiedData'>,
  record: PatientRecord,
  asOf: Date,
  secret?: string,
): ModelView {
  if (model.mayReceiveIdentifiedData) return { record, asOf, relink: (o) => o };
  const d = deidentifyRecord(record, asOf, deidentifyKey(secret));
  return { record: d.record, asOf: d.asOf, relink: (o) => relinkOutput(o, d.pseudonyms) };
}
