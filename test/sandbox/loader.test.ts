import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, Encounter, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { SHARED_DATA } from '../helpers/shared-data.js';
import { fhirClient, idsOf } from './fhir-client.js';

const DATA = `${SHARED_DATA}/synthea`;
const PATIENTS_80 = `${DATA}/patients-80.ndjson.gz`;
const COND = `${DATA}/conditional-refs`;
const COND_FILES = [
  `${COND}/hospitalInformation1633536936158.json.gz`,
  `${COND}/practitionerInformation1633536936158.json.gz`,
  `${COND}/bundles.ndjson.gz`,
];

/** Every `reference` string in a resource. */
function references(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) references(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else references(v, out);
    }
  }
  return out;
}

describe('loader: small ndjson written by the test', () => {
  let sb: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sb = await startSandbox({ logger: false });
    dir = await mkdtemp(join(tmpdir(), 'sandbox-loader-'));
  });
  afterAll(async () => {
    await sb?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads transaction bundles and bare resources, keeping ids and rewriting urn:uuid refs', async () => {
    const pid = '6f1e2d3c-0000-4000-8000-000000000001';
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: `urn:uuid:${pid}`,
          resource: { resourceType: 'Patient', id: pid },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          fullUrl: 'urn:uuid:6f1e2d3c-0000-4000-8000-000000000002',
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { text: 'x' },
            subject: { reference: `urn:uuid:${pid}` },
          },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    const bare = { resourceType: 'Organization', id: 'org-1', name: 'Org' };
    const file = join(dir, 'tiny.ndjson');
    await writeFile(file, `${JSON.stringify(bundle)}\n\n${JSON.stringify(bare)}\n`);
    const first = await sb.loadFile(file);
    expect(first).toEqual({ patients: 1, resources: 3, written: 3, unresolvedReferences: 0 });
    const obs = sb.repo.peek<Observation>('Observation', '6f1e2d3c-0000-4000-8000-000000000002');
    expect(obs?.subject?.reference).toBe(`Patient/${pid}`);
    expect(sb.repo.peek('Organization', 'org-1')).toBeDefined();
    expect(await sb.loadFile(file)).toEqual({ patients: 1, resources: 3, written: 0, unresolvedReferences: 0 });
    expect(await sb.loadFile(file, 1)).toMatchObject({ patients: 1, resources: 2 });
  });

  it('rejects a missing file and reports the line of invalid JSON', async () => {
    await expect(sb.loadFile(join(dir, 'missing.ndjson'))).rejects.toThrow(/ENOENT/);
    const bad = join(dir, 'bad.ndjson');
    await writeFile(bad, '{"resourceType":"Patient","id":"ok"}\n{oops\n');
    await expect(sb.loadFile(bad)).rejects.toThrow(/bad\.ndjson:2: invalid JSON/);
  });
});

describe.skipIf(!existsSync(PATIENTS_80))(`loader: Synthea patients-80 (skipped: ${PATIENTS_80} not found)`, () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ logger: false });
  });
  afterAll(async () => {
    await sb?.close();
  });

  it('loads 3 patients and re-loads idempotently', async () => {
    const first = await sb.loadFile(PATIENTS_80, 3);
    expect(first.patients).toBe(3);
    expect(first.resources).toBeGreaterThan(300);
    expect(first.unresolvedReferences).toBe(0);
    const stored = sb.repo.count();
    const patients = sb.repo.count('Patient');
    const second = await sb.loadFile(PATIENTS_80, 3);
    expect(second).toEqual({ ...first, written: 0 });
    expect(sb.repo.count()).toBe(stored);
    expect(sb.repo.count('Patient')).toBe(patients);
    expect(patients).toBe(3);
  });

  it('leaves no urn:uuid reference and every Patient reference resolves', () => {
    for (const type of sb.repo.resourceTypes()) {
      for (const r of sb.repo.resourcesOf(type)) {
        for (const ref of references(r)) {
          expect(ref).not.toMatch(/^urn:uuid:/);
          if (ref.startsWith('Patient/')) expect(sb.repo.peek('Patient', ref.slice(8))).toBeDefined();
        }
      }
    }
  });

  it('answers patient-scoped searches like the unindexed search, over HTTP too', async () => {
    const client = fhirClient(sb.baseUrl);
    for (const patient of sb.repo.resourcesOf('Patient')) {
      for (const q of [`Observation?patient=Patient/${patient.id}`, `Encounter?subject=Patient/${patient.id}`]) {
        const base = await sb.repo.searchUnindexed(parseSearchRequest(`${q}&_count=1000`));
        const pages = await client.pages(`${q}&_count=50`);
        expect(pages.flatMap(idsOf).sort(), q).toEqual(idsOf(base).sort());
        expect(base.total).toBeGreaterThan(0);
      }
    }
  });
});

describe.skipIf(!COND_FILES.every(existsSync))(`loader: conditional references (skipped: ${COND} not found)`, () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ logger: false });
  });
  afterAll(async () => {
    await sb?.close();
  });

  it('resolves ifNoneExist entries and Practitioner?identifier= references', async () => {
    const hospital = await sb.loadFile(COND_FILES[0]);
    const practitioners = await sb.loadFile(COND_FILES[1]);
    const patients = await sb.loadFile(COND_FILES[2], 1);
    expect(hospital).toMatchObject({ resources: 2382, written: 2382 });
    expect(practitioners).toMatchObject({ resources: 2382, written: 2382 });
    expect(patients.patients).toBe(1);
    expect(patients.unresolvedReferences).toBe(0);
    const encounter = sb.repo.resourcesOf('Encounter').next().value as Encounter;
    const practitionerRef = encounter.participant?.[0].individual?.reference as string;
    expect(practitionerRef).toMatch(/^Practitioner\/[0-9a-f-]+$/);
    expect(sb.repo.peek('Practitioner', practitionerRef.slice('Practitioner/'.length))).toBeDefined();
    expect(encounter.serviceProvider?.reference).toMatch(/^Organization\/[0-9a-f-]+$/);
    const again = await sb.loadFile(COND_FILES[0]);
    expect(again).toMatchObject({ resources: 2382, written: 0 });
    expect(sb.repo.count('Organization')).toBe(1191);
  });
});
