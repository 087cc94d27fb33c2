import type { Bundle, CodeableConcept, MedicationRequest } from '@medplum/fhirtypes';
import { refOf, resourcesOf } from './bundle.js';
import { conceptLabel, SYSTEM } from './codes.js';
import { isoDay, parseFhirDate } from './dates.js';
import { type DrugClass, type Ingredient, MEDICATION_GROUPS, type MedicationGroup } from './medication-tables.js';

/**
 * A completed/unknown-status order authored within this many days before as-of still counts as taken
 * (days): chronic prescriptions are typically renewed at least yearly.
 */
export const MEDICATION_RECENT_DAYS = 365;

/** Statuses that never count as "taking it". `stopped` is explicit: the prescriber ended it. */
const NEVER_ACTIVE = new Set(['stopped', 'cancelled', 'entered-in-error', 'draft', 'on-hold']);

export interface MedicationMatch {
  /** `MedicationRequest/id`. */
  source: string;
  label: string;
  ingredient: string;
  drugClass: DrugClass;
  /** Whether the ingredient RxCUI or the ingredient name in the display/text matched. */
  matchedBy: 'rxcui' | 'name';
  authoredOn?: string;
}

const namePatterns = new Map<string, RegExp>();
function nameRegex(name: string): RegExp {
  let re = namePatterns.get(name);
  if (!re) {
    re = new RegExp(`\\b${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i');
    namePatterns.set(name, re);
  }
  return re;
}

/**
 * Classifies a medication concept into `group`. An RxNorm coding that is an ingredient code in the table wins;
 * otherwise the ingredient name (or an alias) is searched in the coding displays and text, because product
 * codes (e.g. Synthea's SCD "lisinopril 10 MG Oral Tablet") are not in any ingredient table.
 */
export function classifyMedication(
  concept: CodeableConcept | undefined,
  group: MedicationGroup,
): { ingredient: Ingredient; matchedBy: 'rxcui' | 'name' } | undefined {
  const table = MEDICATION_GROUPS[group];
  for (const c of concept?.coding ?? []) {
    if (c.system !== SYSTEM.rxnorm || !c.code) continue;
    const hit = table.find((i) => i.rxcui === c.code);
    if (hit) return { ingredient: hit, matchedBy: 'rxcui' };
  }
  const texts = [concept?.text, ...(concept?.coding ?? []).map((c) => c.display)].filter(
    (t): t is string => typeof t === 'string',
  );
  for (const ingredient of table) {
    const names = [ingredient.name, ...(ingredient.aliases ?? [])];
    if (texts.some((t) => names.some((n) => nameRegex(n).test(t)))) return { ingredient, matchedBy: 'name' };
  }
  return undefined;
}

/** The medication concept of a request: medicationCodeableConcept, or the code of a referenced Medication. */
function medicationConcept(bundle: Bundle, req: MedicationRequest): CodeableConcept | undefined {
  if (req.medicationCodeableConcept) return req.medicationCodeableConcept;
  const ref = req.medicationReference?.reference;
  if (!ref) return undefined;
  if (ref.startsWith('#')) {
    const contained = req.contained?.find((r) => r.id === ref.slice(1));
    return contained?.resourceType === 'Medication' ? contained.code : undefined;
  }
  return resourcesOf(bundle, 'Medication').find((m) => refOf(m) === ref)?.code;
}

/**
 * Whether a request was being taken at `asOf`: authored on or before as-of, and either `active`, or
 * completed/unknown (or intent-only) and authored within `recentDays`, or inside its dispense validity period.
 */
export function isActiveAt(req: MedicationRequest, asOf: Date, recentDays = MEDICATION_RECENT_DAYS): boolean {
  if (NEVER_ACTIVE.has(req.status)) return false;
  const authored = parseFhirDate(req.authoredOn);
  if (authored && authored.getTime() > asOf.getTime()) return false;
  if (req.status === 'active') return true;
  const validity = req.dispenseRequest?.validityPeriod;
  const validEnd = parseFhirDate(validity?.end);
  if (
    validEnd &&
    validEnd.getTime() >= asOf.getTime() &&
    (parseFhirDate(validity?.start)?.getTime() ?? 0) <= asOf.getTime()
  ) {
    return true;
  }
  return authored !== undefined && asOf.getTime() - authored.getTime() <= recentDays * 86_400_000;
}

/** MedicationRequests in `group` being taken at `asOf`, e.g. `activeMedications(bundle, 'statin', asOf)`. */
export function activeMedications(
  bundle: Bundle,
  group: MedicationGroup,
  asOf: Date,
  recentDays = MEDICATION_RECENT_DAYS,
): MedicationMatch[] {
  const out: MedicationMatch[] = [];
  for (const req of resourcesOf(bundle, 'MedicationRequest')) {
    if (!isActiveAt(req, asOf, recentDays)) continue;
    const concept = medicationConcept(bundle, req);
    const hit = classifyMedication(concept, group);
    if (!hit) continue;
    const authored = parseFhirDate(req.authoredOn);
    out.push({
      source: refOf(req),
      label: conceptLabel(concept),
      ingredient: hit.ingredient.name,
      drugClass: hit.ingredient.drugClass,
      matchedBy: hit.matchedBy,
      authoredOn: authored ? isoDay(authored) : undefined,
    });
  }
  return out;
}
