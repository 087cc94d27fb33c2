import type { Bundle, Procedure } from '@medplum/fhirtypes';
import { refOf, resourcesOf } from './bundle.js';
import { type CodeSet, conceptLabel, matchesCodeSet } from './codes.js';
import { isoDay, parseFhirDate } from './dates.js';

/** A Procedure that matched a code set. */
export interface ProcedureMatch {
  /** `Procedure/id`. */
  source: string;
  label: string;
  /** `YYYY-MM-DD` it was performed, when known. */
  performed?: string;
}

/** Statuses that mean the procedure did not (or not yet) happen. */
const NOT_DONE = new Set(['not-done', 'entered-in-error', 'preparation', 'unknown']);

function performedAt(p: Procedure): Date | undefined {
  return parseFhirDate(p.performedDateTime ?? p.performedPeriod?.start ?? p.performedString);
}

/** Procedures in `set` performed on or before `asOf` (unknown dates are accepted), e.g. dialysis sessions. */
export function proceduresDone(bundle: Bundle, set: CodeSet, asOf: Date): ProcedureMatch[] {
  const out: ProcedureMatch[] = [];
  for (const p of resourcesOf(bundle, 'Procedure')) {
    if (NOT_DONE.has(p.status) || !matchesCodeSet(p.code, set)) continue;
    const when = performedAt(p);
    if (when && when.getTime() > asOf.getTime()) continue;
    out.push({ source: refOf(p), label: conceptLabel(p.code), performed: when ? isoDay(when) : undefined });
  }
  return out;
}
