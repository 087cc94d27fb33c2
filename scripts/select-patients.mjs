#!/usr/bin/env node
// Picks the demo/test patients shipped in data/synthea/ from the shared 80-patient Synthea set
// and copies the PREVENT coefficient tables to data/prevent/.
//
//   node scripts/select-patients.mjs [--src DIR] [--prevent-src DIR] [--out DIR] [--check]
//
// Defaults: --src <repo>/../shared/data/synthea  --prevent-src <repo>/../shared/data/prevent  --out <repo>/data
// (or the env vars SYNTHEA_SRC / PREVENT_SRC / DATA_OUT). --check verifies the files already in
// --out are byte-identical to what the script would write, and writes nothing.
//
// Plain Node (>= 20), built-ins only. The output is deterministic: the NDJSON content, manifest and
// README are the same bytes on every run. The gzip bytes can differ between Node versions (bundled
// zlib), so --check compares patients.ndjson.gz by its decompressed content.
//
// The choice itself is the SELECTION table below (source patient id + why). The script checks every
// pick against the source manifest (alive or not, age at AS_OF, flags) and checks that the set as a
// whole still covers what the risk models need (COVERAGE); it fails loudly if the source changed.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const AS_OF = '2021-04-01'; // newest clinical date in the source set is 2021-03-31

/** The selection: source Patient.id, and why it is here. Order = line order of the output file. */
const SELECTION = [
  // --- adults 40-79 with SBP, total cholesterol and HDL (the pooled-cohort / PREVENT inputs)
  { id: 'ba18818d-faef-44cd-9744-b12d8973d402', why: 'Prior ASCVD: coronary heart disease on record (plus clopidogrel, nitroglycerin). Treated hypertension (hydrochlorothiazide + amlodipine), on simvastatin, former smoker; full inputs dated 2021-03.' },
  { id: '6d23a95e-7e18-4201-90ec-9501fa89fbd2', why: 'Lower age bound: woman aged exactly 40. Treated hypertension (hydrochlorothiazide), SBP 168; lipids only from 2018-11 (tests lab recency/look-back).' },
  { id: 'b4a36fff-6981-496a-a0d3-b274dd4b363a', why: 'Age edge: 39 at his last record (2020-12), 40 at the as-of date. Diabetic (metformin), history of cardiac arrest, low HDL 29 and total cholesterol 243, no antihypertensive.' },
  { id: 'd0368972-8517-4623-907e-920b04f003b6', why: 'Low-risk baseline man: never smoker, no hypertension, no diabetes, SBP 107; creatinine but no eGFR Observation (eGFR must be computed).' },
  { id: 'efe58fa2-c6df-4a71-8e37-06c5e4f1e2b8', why: 'Diabetic man (no glucose-lowering drug on record) with treated hypertension (hydrochlorothiazide), SBP 164.5, total cholesterol 236; eGFR and UACR present.' },
  { id: '9eb43ac3-7c1e-4e25-94cd-4b2c43f7234e', why: 'Diabetic woman (metformin) with treated hypertension (hydrochlorothiazide); eGFR 69, UACR present.' },
  { id: '8d1f86a8-3284-43bd-b45e-5931948c97e4', why: 'Older diabetic woman (71, metformin) with treated hypertension (hydrochlorothiazide), SBP 168; UACR present.' },
  { id: 'd483a480-4a42-428c-bf9b-fdbaddf78e21', why: 'Diabetic woman, former smoker, no antihypertensive, SBP 110; complete inputs dated 2021-03 incl. HbA1c and UACR.' },
  { id: 'b4ea5671-8166-4ada-8040-8fc9292d6beb', why: 'Non-diabetic woman, former smoker, no hypertension; lipids from 2018-07; creatinine but no eGFR Observation.' },
  // --- atrial fibrillation (CHA2DS2-VASc and friends)
  { id: 'b2eeab29-a67d-4941-8540-6372911cfc17', why: 'Atrial fibrillation on warfarin/verapamil/digoxin, diabetic, prior stroke (also prior ASCVD), eGFR 41 (reduced kidney function by labs), UACR present.' },
  { id: '8008b382-91cc-468f-95e5-7d6982b7ebb9', why: 'Atrial fibrillation (warfarin/verapamil/digoxin), upper age bound (78); no creatinine or eGFR at all (tests missing-input handling for kidney terms).' },
  // --- CKD / creatinine
  { id: '948e608d-e408-4788-8cf2-8157c49c2940', why: 'CKD stage 1 Condition with diabetic renal disease; diabetic on insulin + metformin, treated hypertension (hydrochlorothiazide), SBP 166; creatinine, eGFR, UACR dated 2021-03.' },
  { id: 'd00b766a-f5fa-4730-a64d-e8574994f460', why: 'Severely reduced kidney function by labs only (creatinine 3.0, eGFR 18.5, no CKD Condition); treated hypertension (hydrochlorothiazide), SBP 194, former smoker, age 72; lipids from 2020-02.' },
  // --- adults without any lipid panel (models must report missing inputs, not guess)
  { id: 'bf3cb50a-d753-4ddc-ad83-839250edcba9', why: 'Adult (18) with no lipid results; current every-day smoker (the only patient of the 80 whose latest smoking status is current).' },
  { id: 'f1f26587-7199-4c0f-880d-d9cd0799ac15', why: 'Adult (23) with no lipid results; treated hypertension (hydrochlorothiazide), SBP 178; smoked in the past (ever-current smoker, now former).' },
  // --- minor
  { id: 'd8f42bb7-a9ee-4fc3-9026-685271b50c79', why: 'Minor (13): adult-only models must decline.' },
];

/** What the whole set must cover; checked after resolving the picks. */
const COVERAGE = [
  ['14-16 patients', (ps) => ps.length >= 14 && ps.length <= 16],
  ['>= 10 alive adults 40-79 with SBP + total cholesterol + HDL', (ps) => ps.filter((p) => inRange(p) && p.flags.hasSBP && p.flags.hasTotalChol && p.flags.hasHDL).length >= 10],
  ['men and women among them', (ps) => new Set(ps.filter(inRange).map((p) => p.gender)).size === 2],
  ['a diabetic 40-79', (ps) => ps.some((p) => inRange(p) && p.flags.hasDiabetes)],
  ['a prior MI, stroke or CHD 40-79', (ps) => ps.some((p) => inRange(p) && (p.extraFlags.hasMI || p.extraFlags.hasStroke || p.extraFlags.hasCHD))],
  ['a smoker (ever current)', (ps) => ps.some((p) => p.extraFlags.everCurrentSmoker)],
  ['>= 2 adults with no lipids', (ps) => ps.filter((p) => p.ageAtAsOf >= 18 && !p.flags.hasTotalChol && !p.flags.hasHDL).length >= 2],
  ['1-2 with atrial fibrillation', (ps) => between(ps.filter((p) => p.flags.hasAFib).length, 1, 2)],
  ['a CKD Condition', (ps) => ps.some((p) => p.flags.hasCKD)],
  ['exactly 1 minor', (ps) => ps.filter((p) => p.ageAtAsOf < 18).length === 1],
  ['all alive', (ps) => ps.every((p) => !p.deceasedDateTime)],
];

const inRange = (p) => !p.deceasedDateTime && p.ageAtAsOf >= 40 && p.ageAtAsOf <= 79;
const between = (n, lo, hi) => n >= lo && n <= hi;

function ageAt(birthDate, asOf) {
  const [by, bm, bd] = birthDate.split('-').map(Number);
  const [ay, am, ad] = asOf.split('-').map(Number);
  return ay - by - (am < bm || (am === bm && ad < bd) ? 1 : 0);
}

function arg(name, envName, dflt) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  return process.env[envName] || dflt;
}

const here = dirname(fileURLToPath(import.meta.url));
// shared/ sits next to the repository checkout (../shared from the repo root).
const SHARED = [join(here, '..', '..', 'shared', 'data'), '/work/shared/data'].find((d) => existsSync(d)) ?? '/work/shared/data';
const SRC = resolve(arg('--src', 'SYNTHEA_SRC', join(SHARED, 'synthea')));
const PREVENT_SRC = resolve(arg('--prevent-src', 'PREVENT_SRC', join(SHARED, 'prevent')));
const OUT = resolve(arg('--out', 'DATA_OUT', join(here, '..', 'data')));
const CHECK = process.argv.includes('--check');

function fail(msg) {
  console.error(`select-patients: ${msg}`);
  process.exit(1);
}

// ---- read the source manifest and bundles
const srcManifest = JSON.parse(readFileSync(join(SRC, 'patients-80.manifest.json'), 'utf8'));
const lines = gunzipSync(readFileSync(join(SRC, 'patients-80.ndjson.gz'))).toString('utf8').split('\n').filter((l) => l.length > 0);
if (lines.length !== srcManifest.patients.length) fail(`source has ${lines.length} lines but the manifest lists ${srcManifest.patients.length}`);

const picked = SELECTION.map(({ id, why }) => {
  const hits = srcManifest.patients.filter((p) => p.patientId === id);
  if (hits.length !== 1) fail(`${id}: ${hits.length} manifest matches`);
  const entry = hits[0];
  const line = lines[entry.line];
  const bundle = JSON.parse(line);
  const patient = bundle.entry?.[0]?.resource;
  if (patient?.resourceType !== 'Patient' || patient.id !== entry.patientId) fail(`${id}: line ${entry.line} is not Patient/${entry.patientId}`);
  return { ...entry, ageAtAsOf: ageAt(entry.birthDate, AS_OF), why, _line: line };
});
if (new Set(picked.map((p) => p.patientId)).size !== picked.length) fail('duplicate pick');

const problems = COVERAGE.filter(([, ok]) => !ok(picked)).map(([what]) => what);
if (problems.length) fail(`coverage not met:\n  - ${problems.join('\n  - ')}`);

// ---- build outputs (in memory first, so --check can compare)
const ndjson = `${picked.map((p) => p._line).join('\n')}\n`;
const gz = gzipSync(Buffer.from(ndjson, 'utf8'), { level: 9 });
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

const manifest = {
  set: 'fhir-assess demo/test subset',
  format: 'gzip-compressed NDJSON; one FHIR R4 Bundle (type=transaction) per line, minified, unchanged from the source; line order = manifest order',
  asOf: AS_OF,
  selectedBy: 'scripts/select-patients.mjs',
  selectedFrom: {
    set: srcManifest.set,
    file: 'patients-80.ndjson.gz',
    manifest: 'patients-80.manifest.json',
    ndjsonGzSha256: sha256(readFileSync(join(SRC, 'patients-80.ndjson.gz'))),
  },
  source: srcManifest.source,
  flagDefinitions: srcManifest.flagDefinitions,
  summary: {
    patients: picked.length,
    alive_40_79_with_SBP_TC_HDL: picked.filter((p) => inRange(p) && p.flags.hasSBP && p.flags.hasTotalChol && p.flags.hasHDL).length,
    gender: { male: picked.filter((p) => p.gender === 'male').length, female: picked.filter((p) => p.gender === 'female').length },
    hasAFib: picked.filter((p) => p.flags.hasAFib).length,
    hasDiabetes: picked.filter((p) => p.flags.hasDiabetes).length,
    hasCKD: picked.filter((p) => p.flags.hasCKD).length,
    hasCreatinine: picked.filter((p) => p.flags.hasCreatinine).length,
    adultsWithoutLipids: picked.filter((p) => p.ageAtAsOf >= 18 && !p.flags.hasTotalChol).length,
    minors: picked.filter((p) => p.ageAtAsOf < 18).length,
    minifiedBytes: Buffer.byteLength(ndjson, 'utf8'),
    ndjsonSha256: sha256(Buffer.from(ndjson, 'utf8')),
  },
  patients: picked.map(({ _line, line, ...p }, i) => ({
    line: i,
    sourceLine: line,
    ...p,
    lineSha256: sha256(Buffer.from(_line, 'utf8')),
  })),
};
const manifestText = `${JSON.stringify(manifest, null, 1)}\n`;

function selectionTable() {
  const rows = picked.map(
    (p, i) => `| ${i} | \`${p.patientId}\` | ${p.ageAtAsOf} | ${p.gender} | ${p.why.replaceAll('|', '\\|')} |`,
  );
  return ['| line | Patient.id | age at ' + AS_OF + ' | sex | why |', '|---|---|---|---|---|', ...rows].join('\n');
}

const files = new Map([
  [join(OUT, 'synthea', 'patients.ndjson.gz'), gz],
  [join(OUT, 'synthea', 'manifest.json'), Buffer.from(manifestText, 'utf8')],
  [join(OUT, 'synthea', 'LICENSE'), readFileSync(join(SRC, 'LICENSE'))],
]);
for (const f of readdirSync(PREVENT_SRC).filter((f) => f.endsWith('.csv')).sort()) {
  files.set(join(OUT, 'prevent', f), readFileSync(join(PREVENT_SRC, f)));
}

// data/README.md: only the block between the markers is generated.
const README = join(OUT, 'README.md');
const START = '<!-- selection-table:start (generated by scripts/select-patients.mjs) -->';
const END = '<!-- selection-table:end -->';
if (existsSync(README)) {
  const text = readFileSync(README, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) {
    files.set(README, Buffer.from(`${text.slice(0, a + START.length)}\n${selectionTable()}\n${text.slice(b)}`, 'utf8'));
  }
}

if (CHECK) {
  const same = (f, buf) => {
    if (!existsSync(f)) return false;
    const have = readFileSync(f);
    return f.endsWith('.gz') ? gunzipSync(have).equals(gunzipSync(buf)) : have.equals(buf);
  };
  const stale = [...files].filter(([f, buf]) => !same(f, buf)).map(([f]) => f);
  if (stale.length) fail(`out of date (re-run without --check):\n  - ${stale.join('\n  - ')}`);
  console.log(`select-patients: ${files.size} files up to date`);
} else {
  for (const [f, buf] of files) {
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, buf);
  }
  console.log(`select-patients: wrote ${files.size} files to ${OUT}`);
  console.log(`  ${picked.length} patients, ${manifest.summary.minifiedBytes} bytes minified, ${gz.length} bytes gzipped`);
  console.log(selectionTable());
}
