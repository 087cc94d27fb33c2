import { FhirHttpError } from '../fhir/fhir-errors.js';

/**
 * A 2xx answer a strategy cannot use (a batch answered with something other than one entry per
 * request, `$everything` without the Patient): the EHR does not do that strategy the way FHIR says,
 * so the next one is tried.
 */
export class UnusableAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableAnswerError';
  }
}

/**
 * Statuses with which EHRs refuse an operation, interaction or parameter they do not support:
 * Medplum answers `$everything?_type=...` with 400 (`types.push is not a function`), others 404
 * (no such operation), 405, 406, 415, 422 or 501.
 */
const REFUSAL_STATUSES = new Set([400, 404, 405, 406, 415, 422, 501]);

/**
 * OperationOutcome issue types that are about access or load, never about the strategy. (Not
 * `transient`: the client gives answers without an OperationOutcome that code for every 5xx, 501 too.)
 */
const NOT_ABOUT_THE_STRATEGY = new Set(['security', 'login', 'forbidden', 'expired', 'throttled']);

/** The Patient resource itself (`.../Patient/{id}`, or a batch's `Patient/{id}` entry), not an operation on it. */
const PATIENT_RESOURCE = /(^|\/)Patient\/[^/$]+$/;

/**
 * Why this error means "this EHR cannot read records that way" (try the next strategy), or undefined
 * when it is a real error that must surface: credentials refused (401/403), the patient absent
 * (404/410 on `Patient/{id}` itself), server errors and throttling (already retried by the client),
 * connection failures, URLs outside the base. A refusal only counts once a later strategy has read the
 * same patient's record: a 404 to `$everything` for a patient that does not exist then ends in the
 * batch's or read's 404 for the Patient, which is what the caller gets.
 */
export function refusalOf(err: unknown): string | undefined {
  if (err instanceof UnusableAnswerError) return err.message;
  if (!(err instanceof FhirHttpError) || !REFUSAL_STATUSES.has(err.status)) return undefined;
  if (err.status === 404 && PATIENT_RESOURCE.test(err.url)) return undefined;
  const issues = err.outcome.issue ?? [];
  if (issues.some((i) => NOT_ABOUT_THE_STRATEGY.has(i.code))) return undefined;
  const text = err.message.replace(/\s+/g, ' ').trim();
  return `HTTP ${err.status}${text ? `: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}` : ''}`;
}
