import type { Bundle, Condition, Observation, Procedure } from '@medplum/fhirtypes';
import {
  EGFR_UNITS,
  matchesCodeSet,
  normaliseQuantity,
  parseFhirDate,
  refOf,
  resourcesOf,
  SYSTEM,
} from '../../models/fhir-inputs/index.js';
import { clinicalDate, latestDate } from '../clinical-date.js';
import { CAUSE_OF_DEATH_LOINC, EGFR_LOINC } from './outcome-codes.js';
import type { OutcomeDefinition } from './outcome-definitions.js';

/** Average year length, ms: follow-up times are in years. */
const YEAR_MS = 365.25 * 24 * 3600 * 1000;

/** Why follow-up ended. */
export type FollowUpEnd = 'outcome' | 'horizon' | 'death-other-cause' | 'death-unknown-cause' | 'end-of-record';

/** One patient's follow-up after the as-of date. */
export type FollowUp =
  | {
      /** Years from the as-of date, at most the horizon. */
      time: number;
      event: boolean;
      end: FollowUpEnd;
      /** `Type/id` of what showed the outcome (or the death). */
      evidence?: string;
    }
  | { excluded: string };

interface Dated {
  at: Date;
  evidence: string;
}

/** The instant `years` calendar years after `date`. */
export function yearsAfter(date: Date, years: number): Date {
  const d = new Date(date);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

function earliest(items: Dated[]): Dated | undefined {
  return items.reduce<Dated | undefined>((a, x) => (!a || x.at < a.at ? x : a), undefined);
}

const within = (at: Date | undefined, from: Date, to: Date): at is Date => !!at && at > from && at <= to;

/** Outcome evidence dated in (asOf, end]: Conditions, Procedures, eGFR values below the threshold. */
function outcomeEvents(bundle: Bundle, def: OutcomeDefinition, asOf: Date, end: Date): Dated[] {
  const out: Dated[] = [];
  const add = (r: Condition | Procedure | Observation) => {
    const at = clinicalDate(r);
    if (within(at, asOf, end)) out.push({ at, evidence: refOf(r) });
  };
  for (const c of resourcesOf(bundle, 'Condition')) {
    const refuted = c.verificationStatus?.coding?.some((x) => x.code === 'refuted' || x.code === 'entered-in-error');
    if (!refuted && def.conditions.some((set) => matchesCodeSet(c.code, set))) add(c);
  }
  for (const p of resourcesOf(bundle, 'Procedure'))
    if (p.status !== 'entered-in-error' && def.procedures?.some((set) => matchesCodeSet(p.code, set))) add(p);
  if (def.egfrBelow !== undefined) {
    for (const o of resourcesOf(bundle, 'Observation')) {
      if (!o.code?.coding?.some((c) => c.system === SYSTEM.loinc && EGFR_LOINC.includes(c.code ?? ''))) continue;
      const v = normaliseQuantity(o.valueQuantity, EGFR_UNITS);
      if (v.ok && v.value < def.egfrBelow) add(o);
    }
  }
  return out;
}

/** The death in (asOf, end], and whether its recorded cause makes it the outcome. */
function deathIn(bundle: Bundle, def: OutcomeDefinition, asOf: Date, end: Date) {
  const patient = resourcesOf(bundle, 'Patient')[0];
  const at = parseFhirDate(patient?.deceasedDateTime);
  if (!patient || !within(at, asOf, end)) return undefined;
  const cause = resourcesOf(bundle, 'Observation').find((o) =>
    o.code?.coding?.some((c) => c.system === SYSTEM.loinc && c.code === CAUSE_OF_DEATH_LOINC),
  );
  const counts =
    def.deathCauses === 'any' ||
    (!!cause && def.deathCauses.some((set) => matchesCodeSet(cause.valueCodeableConcept, set)));
  return { at, evidence: cause ? refOf(cause) : refOf(patient), counts, causeKnown: !!cause };
}

/** The patient's last contact: the latest date any resource of the record carries. */
function lastContact(bundle: Bundle): Date | undefined {
  let last: Date | undefined;
  for (const e of bundle.entry ?? []) {
    const r = e.resource;
    if (!r || r.resourceType === 'Patient') continue;
    const at = latestDate(r);
    if (at && (!last || at > last)) last = at;
  }
  return last;
}

const years = (from: Date, to: Date) => (to.getTime() - from.getTime()) / YEAR_MS;

/**
 * Follows one patient from the as-of date to the horizon in the full longitudinal record. Censoring:
 * a death that is not the outcome (another or an unrecorded cause) ends follow-up at the death, and a
 * record that stops before the horizon ends it at the last contact (the latest date of any resource);
 * no contact after the as-of date at all excludes the patient (nothing is known of them).
 * @param completeUntil - the date up to which the records are known to be complete for every living
 *   patient (an integrated system's data extraction date; Synthea's simulation end): living patients are
 *   then followed to it rather than to their last contact. Absent: last contact.
 */
export function followUp(
  bundle: Bundle,
  def: OutcomeDefinition,
  asOf: Date,
  horizonYears: number,
  completeUntil?: Date,
): FollowUp {
  const horizonEnd = yearsAfter(asOf, horizonYears);
  const death = deathIn(bundle, def, asOf, horizonEnd);
  const until = death?.at ?? horizonEnd;
  const first = earliest([...outcomeEvents(bundle, def, asOf, until), ...(death?.counts ? [death] : [])]);
  if (first)
    return {
      time: Math.min(horizonYears, years(asOf, first.at)),
      event: true,
      end: 'outcome',
      evidence: first.evidence,
    };
  if (death) {
    const end = death.causeKnown ? 'death-other-cause' : 'death-unknown-cause';
    return { time: years(asOf, death.at), event: false, end, evidence: death.evidence };
  }
  const last = completeUntil ?? lastContact(bundle);
  if (!last || last <= asOf) return { excluded: 'no contact recorded after the as-of date' };
  if (last >= horizonEnd) return { time: horizonYears, event: false, end: 'horizon' };
  return { time: years(asOf, last), event: false, end: 'end-of-record' };
}
