import type { Bundle, Condition } from '@medplum/fhirtypes';
import { refOf, resourcesOf } from './bundle.js';
import { type CodeSet, conceptLabel, matchesCodeSet } from './codes.js';
import { isoDay, parseFhirDate } from './dates.js';

/** A Condition that matched a code set. */
export interface ConditionMatch {
  /** `Condition/id`. */
  source: string;
  label: string;
  /** `YYYY-MM-DD` of onset (or recordedDate) when known. */
  onset?: string;
  condition: Condition;
}

const ACTIVE_STATUS = new Set(['active', 'recurrence', 'relapse']);
/** Verification statuses that mean "this diagnosis does not hold". */
const DISCARDED_VERIFICATION = new Set(['refuted', 'entered-in-error']);

function statusCode(c: Condition, which: 'clinicalStatus' | 'verificationStatus'): string | undefined {
  return c[which]?.coding?.find((x) => x.code)?.code;
}

/** Onset instant (onsetDateTime, onsetPeriod.start, else recordedDate). */
function onsetOf(c: Condition): Date | undefined {
  return parseFhirDate(c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate);
}

/** Abatement instant (abatementDateTime, abatementPeriod end/start). */
function abatementOf(c: Condition): Date | undefined {
  return parseFhirDate(c.abatementDateTime ?? c.abatementPeriod?.end ?? c.abatementPeriod?.start);
}

/** Conditions in `set`, not refuted, with onset on or before `asOf` (unknown onset is accepted). */
function candidates(bundle: Bundle, set: CodeSet, asOf: Date): Condition[] {
  return resourcesOf(bundle, 'Condition').filter((c) => {
    if (DISCARDED_VERIFICATION.has(statusCode(c, 'verificationStatus') ?? '')) return false;
    if (!matchesCodeSet(c.code, set)) return false;
    const onset = onsetOf(c);
    return onset === undefined || onset.getTime() <= asOf.getTime();
  });
}

function toMatch(c: Condition): ConditionMatch {
  const onset = onsetOf(c);
  return { source: refOf(c), label: conceptLabel(c.code), onset: onset ? isoDay(onset) : undefined, condition: c };
}

/**
 * Conditions in `set` that were active at `asOf`: onset on or before as-of and not abated by then.
 * With an abatement date, that date decides (so a condition resolved after a past as-of still counts);
 * without one, clinicalStatus must be active/recurrence/relapse or absent.
 */
export function activeConditions(bundle: Bundle, set: CodeSet, asOf: Date): ConditionMatch[] {
  return candidates(bundle, set, asOf)
    .filter((c) => {
      const abated = abatementOf(c);
      if (abated) return abated.getTime() > asOf.getTime();
      if (c.abatementString || c.abatementAge || c.abatementRange) return false;
      const status = statusCode(c, 'clinicalStatus');
      return status === undefined || ACTIVE_STATUS.has(status);
    })
    .map(toMatch);
}

/** Conditions in `set` the patient has ever had by `asOf`, whatever their clinical status (e.g. prior MI). */
export function everConditions(bundle: Bundle, set: CodeSet, asOf: Date): ConditionMatch[] {
  return candidates(bundle, set, asOf).map(toMatch);
}
