import type { Resource } from '@medplum/fhirtypes';
import { isFhirDate, shiftFhirDate } from './date-shift.js';
import type { Pseudonymizer } from './pseudonyms.js';

/**
 * Resource types a de-identified record may contain: clinical facts about the patient. Everything
 * else (Practitioner, Organization, Location, RelatedPerson, DocumentReference, Claim, ...) is about
 * other people, places or documents and is dropped whole.
 */
export const CLINICAL_TYPES = new Set([
  'Patient',
  'Observation',
  'Condition',
  'MedicationRequest',
  'MedicationStatement',
  'MedicationAdministration',
  'MedicationDispense',
  'Medication',
  'Procedure',
  'Encounter',
  'AllergyIntolerance',
  'Immunization',
  'DiagnosticReport',
  'FamilyMemberHistory',
  'CarePlan',
  'Goal',
  'ServiceRequest',
]);

/** Elements removed whole: identifiers, names, contact details, narrative, notes, attachments. */
const DROP = new Set([
  'identifier',
  'name',
  'telecom',
  'photo',
  'contact',
  'text',
  'note',
  'comment',
  'link',
  'contained',
  'attachment',
  'content',
  'presentedForm',
  'signature',
  'qualification',
  'valueAttachment',
  'valueHumanName',
  'valueContactPoint',
  'valueIdentifier',
  'valueSignature',
  'implicitRules',
]);

/** String elements kept verbatim: codes, systems, units and statuses from terminologies, not free text. */
const CODE_KEYS = new Set([
  'resourceType',
  'status',
  'system',
  'code',
  'version',
  'unit',
  'gender',
  'intent',
  'use',
  'comparator',
  'priority',
  'valueCode',
  'profile',
]);

const UCUM = 'http://unitsofmeasure.org';

/**
 * HIPAA Safe Harbor (45 CFR 164.514(b)(2)) over one resource, by allow-list: codes and quantities
 * stay, dates move by the patient's shift, ids and references become pseudonyms, addresses keep only
 * state and country, ages over 89 become 90, and every other string (names, free text, displays
 * outside codings, URLs) is dropped. Returns undefined for a type that is not clinical.
 */
export function deidentifyResource(r: Resource, p: Pseudonymizer): Resource | undefined {
  if (!CLINICAL_TYPES.has(r.resourceType)) return undefined;
  const out = walkObject(r as unknown as Record<string, unknown>, p, true) ?? {};
  return out as unknown as Resource;
}

function walk(value: unknown, key: string, parent: Record<string, unknown>, p: Pseudonymizer): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return isAgeOver89(key, parent) ? 90 : value;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return walkString(value, key, parent, p);
  if (Array.isArray(value)) {
    const items = value.map((v) => walk(v, key, parent, p)).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  if (typeof value === 'object') return walkObject(value as Record<string, unknown>, p, false);
  return undefined;
}

function walkObject(
  obj: Record<string, unknown>,
  p: Pseudonymizer,
  isResource: boolean,
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (DROP.has(key)) continue;
    let kept: unknown;
    if (key === 'meta') kept = walkMeta(value as Record<string, unknown>, p);
    else if (key === 'address' || key === 'valueAddress') kept = stateOnly(value);
    else if (key === 'id')
      kept = isResource && typeof value === 'string' ? p.id(obj.resourceType as string, value) : undefined;
    else kept = walk(value, key, obj, p);
    if (kept !== undefined) out[key] = kept;
  }
  if (isExtension(obj) && !Object.keys(out).some((k) => k.startsWith('value') || k === 'extension')) return undefined;
  const meaningful = Object.keys(out).filter((k) => k !== 'url' && k !== 'use');
  return meaningful.length ? out : undefined;
}

function walkString(value: string, key: string, parent: Record<string, unknown>, p: Pseudonymizer): string | undefined {
  if (CODE_KEYS.has(key)) return value;
  if (key === 'reference') return p.reference(value);
  if (key === 'display') return isCoding(parent) ? value : undefined; // terminology display, not a person's name
  if (key === 'url') return isExtension(parent) ? value : undefined;
  if (key === 'type' && /^[A-Z][A-Za-z]+$/.test(value)) return value; // Reference.type
  if (isFhirDate(value)) return shiftFhirDate(value, -p.shiftDays);
  return undefined; // free text, names, URLs, anything not known to be safe
}

/** Only profile, security labels and tags (no versionId, lastUpdated or source). */
function walkMeta(meta: Record<string, unknown> | undefined, p: Pseudonymizer): unknown {
  if (!meta) return undefined;
  const kept = walkObject({ profile: meta.profile, security: meta.security, tag: meta.tag }, p, false);
  return kept;
}

/** Safe Harbor keeps the state; street, city, district and postal code go. */
function stateOnly(value: unknown): unknown {
  const one = (a: { state?: unknown; country?: unknown }) => {
    const out: Record<string, string> = {};
    if (typeof a?.state === 'string') out.state = a.state;
    if (typeof a?.country === 'string') out.country = a.country;
    return Object.keys(out).length ? out : undefined;
  };
  if (Array.isArray(value)) {
    const items = value.map(one).filter(Boolean);
    return items.length ? items : undefined;
  }
  return value && typeof value === 'object' ? one(value as Record<string, unknown>) : undefined;
}

function isCoding(obj: Record<string, unknown>): boolean {
  return typeof obj.code === 'string' || typeof obj.system === 'string';
}

function isExtension(obj: Record<string, unknown>): boolean {
  return typeof obj.url === 'string' && Object.keys(obj).some((k) => k.startsWith('value') || k === 'extension');
}

/** An Age-like quantity (`{value, unit a|years, system UCUM}`) above 89 years. */
function isAgeOver89(key: string, parent: Record<string, unknown>): boolean {
  if (key !== 'value' || typeof parent.value !== 'number' || parent.value <= 89) return false;
  const unit = String(parent.code ?? parent.unit ?? '').toLowerCase();
  return (parent.system === UCUM || parent.system === undefined) && (unit === 'a' || unit === 'yr' || unit === 'years');
}
