import type { Bundle, Patient } from '@medplum/fhirtypes';
import { patientOf, refOf } from './bundle.js';
import { ageInYears, parseFhirDate } from './dates.js';

/** US Core race extension; its `ombCategory` sub-extensions carry CDC race codes (urn:oid:2.16.840.1.113883.6.238). */
export const US_CORE_RACE_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
/** OMB category "Black or African American". */
export const OMB_BLACK = '2054-5';
/** OMB category "White". */
export const OMB_WHITE = '2106-3';

/** `black` when any OMB category is 2054-5; `white` when only 2106-3; `other` for other categories; `unknown` when absent. */
export type RaceGroup = 'black' | 'white' | 'other' | 'unknown';

export interface Demographics {
  /** `Patient/id`. */
  source: string;
  birthDate?: string;
  /** Whole years at as-of; undefined when birthDate is absent or too imprecise. */
  ageYears?: number;
  sex?: 'male' | 'female' | 'other' | 'unknown';
  race: RaceGroup;
  /** OMB category codes found, for provenance. */
  raceCodes: string[];
  /** True when the patient had died on or before as-of (deceasedBoolean true counts regardless of date). */
  deceased: boolean;
  deceasedDate?: string;
}

function raceOf(patient: Patient): { race: RaceGroup; codes: string[] } {
  const ext = patient.extension?.find((e) => e.url === US_CORE_RACE_URL);
  const codes = (ext?.extension ?? [])
    .filter((e) => e.url === 'ombCategory' && e.valueCoding?.code)
    .map((e) => e.valueCoding!.code!);
  if (codes.includes(OMB_BLACK)) return { race: 'black', codes };
  if (codes.includes(OMB_WHITE)) return { race: 'white', codes };
  return { race: codes.length > 0 ? 'other' : 'unknown', codes };
}

/** Demographics of the record's Patient relative to `asOf`; undefined when the Bundle holds no Patient. */
export function getDemographics(bundle: Bundle, asOf: Date): Demographics | undefined {
  const patient = patientOf(bundle);
  if (!patient) return undefined;
  const { race, codes } = raceOf(patient);
  const died = parseFhirDate(patient.deceasedDateTime);
  const deceased = patient.deceasedBoolean === true || (died !== undefined && died.getTime() <= asOf.getTime());
  return {
    source: refOf(patient),
    birthDate: patient.birthDate,
    ageYears: ageInYears(patient.birthDate, asOf),
    sex: patient.gender,
    race,
    raceCodes: codes,
    deceased,
    deceasedDate: patient.deceasedDateTime,
  };
}
