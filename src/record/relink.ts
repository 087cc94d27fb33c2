import type { Reference } from '@medplum/fhirtypes';
import type { ModelOutput } from '../models/model.js';
import { shiftFhirDate } from './deid/date-shift.js';
import type { Pseudonymizer } from './deid/pseudonyms.js';

/** `Type/<24 hex>`: a pseudonymous reference as Pseudonymizer writes it. */
const PSEUDO_REF = /\b([A-Z][A-Za-z]+)\/([0-9a-f]{24})\b/g;
const ISO_DATE = /\b(\d{4}-\d{2}-\d{2})\b/g;

/**
 * Maps a model's answer about a de-identified record back to the real record: pseudonymous
 * references become real ones (references the record never contained are dropped: a model must not
 * make us cite a resource that does not exist), and dates move back by the patient's shift, in
 * structured fields and in the text the model wrote.
 */
export function relinkOutput(output: ModelOutput, p: Pseudonymizer): ModelOutput {
  const text = (s: string) => relinkText(s, p);
  return {
    ...output,
    summary: text(output.summary),
    basis: output.basis
      .map((ref) => ({ ...ref, reference: ref.reference ? p.real(ref.reference) : undefined }))
      .filter((ref): ref is Reference & { reference: string } => !!ref.reference)
      .map(({ display: _display, ...ref }) => ref),
    predictions: output.predictions.map((pred) => ({
      ...pred,
      rationale: text(pred.rationale),
      ...(pred.category ? { category: text(pred.category) } : {}),
      inputsUsed: pred.inputsUsed.map(({ source, effective, ...used }) => ({
        ...used,
        ...(source && p.real(source) ? { source: p.real(source) } : {}),
        ...(effective ? { effective: shiftFhirDate(effective, p.shiftDays) } : {}),
      })),
    })),
    missing: output.missing.map((m) => ({ ...m, ...(m.detail ? { detail: text(m.detail) } : {}) })),
    exclusions: output.exclusions.map((e) => ({ ...e, reason: text(e.reason) })),
  };
}

/** Real references for pseudonyms and real dates for shifted ones inside free text. */
export function relinkText(s: string, p: Pseudonymizer): string {
  return s
    .replace(PSEUDO_REF, (whole) => p.real(whole) ?? whole)
    .replace(ISO_DATE, (date) => shiftFhirDate(date, p.shiftDays));
}
