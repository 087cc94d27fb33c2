import type { Bundle, ClinicalImpression, Provenance, RiskAssessment } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { shadowCommand } from '../../src/cli/shadow.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { ShadowStore } from '../../src/writeback/shadow-store.js';
import { validateOne } from '../../src/writeback/validate.js';
import { writeBack } from '../../src/writeback/write-back.js';
import { assessGoff, countOutputs, type Harness, seedGoffPatient, startHarness } from './harness.js';

const RETENTION_DAYS = 2;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Shadow mode: nothing reaches the EHR, and the complete would-be transaction is kept in the shadow
 * store (Redis), queryable by model and patient, idempotent, with the configured retention.
 */
describe('shadow mode', () => {
  let h: Harness;
  let patientId: string;
  let key: string;
  let store: ShadowStore;

  beforeAll(async () => {
    h = await startHarness('shadow');
    patientId = await seedGoffPatient(h.sandbox);
    store = new ShadowStore(h.conn, h.prefix, RETENTION_DAYS);
  });
  afterAll(async () => h?.close());

  it('When a shadow assessment runs, Then the EHR receives no write and the shadow store holds the complete, valid transaction', async () => {
    const assessed = await assessGoff(h.client, patientId);
    key = assessed.key;
    const before = countOutputs(h.sandbox);
    const methods: string[] = [];
    const client = new FhirClient({
      baseUrl: h.sandbox.baseUrl,
      fetch: (input, init) => {
        methods.push(init?.method ?? 'GET');
        return fetch(input, init);
      },
    });
    const deps = h.deps({ shadowRetentionDays: RETENTION_DAYS });
    const result = await writeBack(client, { ...assessed.input, mode: 'shadow' }, deps);
    expect(result).toMatchObject({ mode: 'shadow', via: 'shadow', written: [], created: 0, stored: true });
    expect(new Set(methods)).toEqual(new Set(['GET'])); // reads only (the previous impression)
    expect(countOutputs(h.sandbox)).toEqual(before);

    const record = await store.get('ehr', key);
    expect(record).toMatchObject({ key, source: 'ehr', patientId, modelId: 'fhir-assess-risk-equations' });
    const bundle = record!.bundle as Bundle;
    expect(bundle).toEqual(result.bundle);
    expect(bundle.type).toBe('transaction');
    const types = bundle.entry!.map((e) => e.resource!.resourceType);
    expect(types).toEqual(['Device', 'Device', 'RiskAssessment', 'ClinicalImpression', 'Provenance']);
    for (const e of bundle.entry!) {
      expect(e.request?.ifNoneExist).toMatch(/^(identifier|_tag)=urn%3Afhir-assess%3A/);
      expect(validateOne(e.resource!, 'preliminary').filter((i) => i.severity === 'error')).toEqual([]);
    }
    const [model, , raEntry, ciEntry, provEntry] = bundle.entry!;
    const ra = raEntry.resource as RiskAssessment;
    expect(ra.status).toBe('preliminary'); // what promotion to preliminary would write
    expect(ra.prediction![0].probabilityDecimal).toBeCloseTo(0.0538, 4);
    expect(ra.performer?.reference).toBe(model.fullUrl);
    expect((ciEntry.resource as ClinicalImpression).prognosisReference).toEqual([{ reference: raEntry.fullUrl }]);
    expect((provEntry.resource as Provenance).target).toEqual([
      { reference: raEntry.fullUrl },
      { reference: ciEntry.fullUrl },
    ]);
  });

  it('When the same shadow assessment runs again, Then the store keeps one record (the first)', async () => {
    const assessed = await assessGoff(h.client, patientId);
    const first = await store.get('ehr', key);
    const again = await writeBack(h.client, { ...assessed.input, mode: 'shadow' }, h.deps());
    expect(again.stored).toBe(false);
    expect(await store.get('ehr', key)).toEqual(first);
    expect(await store.list({ source: 'ehr', patientId })).toHaveLength(1);
  });

  it('When the store is queried by model, version and patient, Then it lists the matching records with their predictions', async () => {
    const hit = {
      key,
      patientId,
      modelId: 'fhir-assess-risk-equations',
      modelVersion: '0.1.0',
      predictions: [{ calculator: 'pce-2013', probability: expect.closeTo(0.0538, 4), qualitativeRisk: 'moderate' }],
    };
    expect(await store.list({ source: 'ehr' })).toEqual([expect.objectContaining(hit)]);
    expect(await store.list({ source: 'ehr', model: 'fhir-assess-risk-equations' })).toEqual([
      expect.objectContaining(hit),
    ]);
    expect(await store.list({ source: 'ehr', model: 'fhir-assess-risk-equations@0.1.0', patientId })).toHaveLength(1);
    expect(await store.list({ source: 'ehr', model: 'fhir-assess-risk-equations@9.9.9' })).toEqual([]);
    expect(await store.list({ source: 'ehr', model: 'other-model' })).toEqual([]);
    expect(await store.list({ source: 'ehr', patientId: 'someone-else' })).toEqual([]);
    expect(await store.list({ source: 'other-ehr' })).toEqual([]);
  });

  it('When records age, Then each expires after the retention and older index entries are trimmed', async () => {
    const ttl = await h.conn.ttl(`${h.prefix}:shadow:ehr:rec:${key}`);
    expect(ttl).toBeGreaterThan(RETENTION_DAYS * 86400 - 60);
    expect(ttl).toBeLessThanOrEqual(RETENTION_DAYS * 86400);
    const old = {
      ...(await store.get('ehr', key))!,
      key: 'old-run',
      createdAt: new Date(Date.now() - 3 * DAY_MS).toISOString(),
    };
    expect(await store.save(old)).toBe(true);
    expect(await h.conn.zscore(`${h.prefix}:shadow:ehr:idx:all`, 'old-run')).toBeNull(); // trimmed on save
    expect((await store.list({ source: 'ehr' })).map((r) => r.key)).toEqual([key]);
  });

  it('When `fhir-assess shadow list` and `show` run, Then they print the records from the configured Redis', async () => {
    const env = { REDIS_URL: h.redis.url, QUEUE_PREFIX: h.prefix, SHADOW_RETENTION_DAYS: String(RETENTION_DAYS) };
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    try {
      expect(await shadowCommand(['list', '--patient', patientId], env)).toBe(0);
      expect(await shadowCommand(['list', '--model', 'fhir-assess-risk-equations', '--format', 'json'], env)).toBe(0);
      expect(await shadowCommand(['show', key], env)).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out[0]).toContain(`${key}  Patient/${patientId}  fhir-assess-risk-equations@0.1.0  pce-2013 5.38 %`);
    expect(JSON.parse(out[1])).toEqual([expect.objectContaining({ key, patientId })]);
    expect(JSON.parse(out[2]).bundle.entry).toHaveLength(5);
  });
});
