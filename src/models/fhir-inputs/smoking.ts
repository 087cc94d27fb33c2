import type { Bundle } from '@medplum/fhirtypes';
import type { LastValue } from '../model.js';
import { refOf } from './bundle.js';
import { SYSTEM } from './codes.js';
import { isoDay, yearsBefore } from './dates.js';
import { observationsAsOf, observationTime, staleText, windowText } from './observations.js';

/** LOINC "Tobacco smoking status". */
export const SMOKING_STATUS_LOINC = '72166-2';

/**
 * How recent a smoking status must be (years). Quality measures for tobacco screening (e.g. CMS138) use a
 * 24-month look-back; an older "never" or "current" is not trusted.
 */
export const SMOKING_MAX_AGE_YEARS = 2;

/** SNOMED CT smoking-status values by category (docs/risk-models.md §0). */
export const SMOKING_CODES = {
  current: ['449868002', '428041000124106', '77176002', '65568007', '230063004', '230060001'],
  former: ['8517006'],
  never: ['266919005'],
  unknown: ['266927001'],
} as const;

export type SmokingCategory = keyof typeof SMOKING_CODES;

/** The latest smoking status, or why there is none. `unknown` is a recorded status, not a missing one. */
export type SmokingStatus =
  | { ok: true; status: SmokingCategory; code: string; source: string; effective: string }
  | { ok: false; reason: 'missing' | 'stale'; detail: string; last?: LastValue };

function categoryOf(code: string): SmokingCategory | undefined {
  for (const [category, codes] of Object.entries(SMOKING_CODES) as [SmokingCategory, readonly string[]][]) {
    if (codes.includes(code)) return category;
  }
  return undefined;
}

/**
 * The smoking status from the newest usable 72166-2 Observation whose value is a known SNOMED code,
 * effective on or before `asOf` and within `maxAgeYears`.
 */
export function getSmokingStatus(bundle: Bundle, asOf: Date, maxAgeYears = SMOKING_MAX_AGE_YEARS): SmokingStatus {
  for (const obs of observationsAsOf(bundle, [SMOKING_STATUS_LOINC], asOf)) {
    const coding = obs.valueCodeableConcept?.coding?.find(
      (c) => c.system === SYSTEM.snomed && c.code && categoryOf(c.code),
    );
    if (!coding?.code) continue;
    const when = observationTime(obs)!;
    if (when.getTime() < yearsBefore(asOf, maxAgeYears).getTime()) {
      const value = `${categoryOf(coding.code)} (${coding.display ?? `SNOMED ${coding.code}`})`;
      const last: LastValue = { value, effective: isoDay(when), source: refOf(obs) };
      const window = windowText({ maxAgeYears });
      return { ok: false, reason: 'stale', detail: staleText('Smoking status', last, window), last };
    }
    return {
      ok: true,
      status: categoryOf(coding.code)!,
      code: coding.code,
      source: refOf(obs),
      effective: isoDay(when),
    };
  }
  return {
    ok: false,
    reason: 'missing',
    detail: `no LOINC ${SMOKING_STATUS_LOINC} with a known SNOMED value on or before as-of`,
  };
}
