import type { CodeableConcept, Coding } from '@medplum/fhirtypes';

/** Code system URIs the input helpers match on. */
export const SYSTEM = {
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  /** ICD-10-CM (US) and WHO ICD-10 are both accepted wherever ICD-10 prefixes are used. */
  icd10: ['http://hl7.org/fhir/sid/icd-10-cm', 'http://hl7.org/fhir/sid/icd-10'],
  ucum: 'http://unitsofmeasure.org',
} as const;

/** A set of codes: exact SNOMED CT codes and/or ICD-10 prefixes (e.g. `I21`, `I73.9`). */
export interface CodeSet {
  /** Human-readable name, used in `missing`/`exclusions` messages. */
  name: string;
  snomed?: readonly string[];
  /** ICD-10 prefixes; dots are ignored when matching (`I73.9` matches `I739`, `I73.90`). */
  icd10Prefixes?: readonly string[];
}

/** Codings of a CodeableConcept (empty when absent). */
export function codingsOf(concept: CodeableConcept | undefined): Coding[] {
  return concept?.coding ?? [];
}

/** True when any coding has the given system and one of the codes. */
export function hasCode(concept: CodeableConcept | undefined, system: string, codes: readonly string[]): boolean {
  return codingsOf(concept).some((c) => c.system === system && c.code !== undefined && codes.includes(c.code));
}

/** Normalises an ICD-10 code for prefix matching: upper case, no dots or spaces. */
function normaliseIcd10(code: string): string {
  return code.toUpperCase().replace(/[.\s]/g, '');
}

/** True when the concept carries a SNOMED code or an ICD-10 code under one of the prefixes of `set`. */
export function matchesCodeSet(concept: CodeableConcept | undefined, set: CodeSet): boolean {
  for (const c of codingsOf(concept)) {
    if (!c.code) continue;
    if (c.system === SYSTEM.snomed && set.snomed?.includes(c.code)) return true;
    if (c.system && (SYSTEM.icd10 as readonly string[]).includes(c.system) && set.icd10Prefixes) {
      const code = normaliseIcd10(c.code);
      if (set.icd10Prefixes.some((p) => code.startsWith(normaliseIcd10(p)))) return true;
    }
  }
  return false;
}

/** The best human-readable label of a concept: its text, else the first coding display, else code. */
export function conceptLabel(concept: CodeableConcept | undefined): string {
  const first = codingsOf(concept)[0];
  return concept?.text ?? first?.display ?? first?.code ?? 'unknown';
}
