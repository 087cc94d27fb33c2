import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StructureDefinition } from '@medplum/fhirtypes';
import { PROJECT_ROOT } from '../../paths.js';

/** Where the StructureDefinitions (differential + generated snapshot) live. */
export const PROFILES_DIR = join(PROJECT_ROOT, 'fhir-profiles');

const BASE = 'http://fhir-assess.dev/StructureDefinition';

/** Canonical URLs of our output profiles. */
export const PROFILE = {
  riskAssessment: `${BASE}/ai-risk-assessment`,
  clinicalImpression: `${BASE}/ai-clinical-impression`,
  modelDevice: `${BASE}/ai-model-device`,
  provenance: `${BASE}/ai-provenance`,
} as const;

/** File names of our StructureDefinitions in {@link PROFILES_DIR}. */
export function profileFiles(dir = PROFILES_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('StructureDefinition-') && f.endsWith('.json'))
    .sort();
}

let cache: Map<string, StructureDefinition> | undefined;

/**
 * Our profiles by canonical URL, read once per process (~4 files). They must carry a snapshot:
 * `node scripts/generate-snapshots.mjs` writes it (the differential is the source of truth).
 */
export function loadProfiles(): Map<string, StructureDefinition> {
  if (cache) return cache;
  const out = new Map<string, StructureDefinition>();
  for (const file of profileFiles()) {
    const sd = JSON.parse(readFileSync(join(PROFILES_DIR, file), 'utf8')) as StructureDefinition;
    if (!sd.url || !sd.snapshot?.element?.length) {
      throw new Error(`fhir-profiles/${file}: no snapshot; run: npm run build && node scripts/generate-snapshots.mjs`);
    }
    out.set(sd.url, sd);
  }
  cache = out;
  return out;
}

/** One of our profiles by canonical URL; throws when it is not shipped. */
export function getProfile(url: string): StructureDefinition {
  const sd = loadProfiles().get(url);
  if (!sd) throw new Error(`profile ${url} is not in fhir-profiles/`);
  return sd;
}
