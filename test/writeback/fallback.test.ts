import type { ClinicalImpression, Device, Provenance } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { writeBack } from '../../src/writeback/write-back.js';
import { assessGoff, deleteKeys, type Harness, seedGoffPatient, startHarness, storedFor } from './harness.js';

/** Counts what a client sends; optionally answers `metadata` with 404 or "crashes" before POST number k+1. */
function instrumentedFetch(opts: { noMetadata?: boolean; crashAfterPosts?: number } = {}) {
  const sent: string[] = [];
  let posts = 0;
  const wrapped: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    if (opts.noMetadata && url.pathname.endsWith('/metadata')) return new Response('', { status: 404 });
    if (init?.method === 'POST' && opts.crashAfterPosts !== undefined && posts++ >= opts.crashAfterPosts) {
      throw new Error('simulated crash'); // the process dies before this request leaves
    }
    sent.push(`${init?.method ?? 'GET'} ${url.pathname.replace(/^\/fhir\/R4\/?/, '/')}`);
    return fetch(input, init);
  };
  return { fetch: wrapped, sent };
}

/**
 * EHRs that refuse transactions: the write-back detects it (CapabilityStatement or a 405 on the
 * transaction POST) and sends ordered single conditional creates, which resume after a crash at any
 * step without duplicating anything.
 */
describe('write-back to an EHR without transactions', () => {
  let h: Harness;
  let patientId: string;

  beforeAll(async () => {
    h = await startHarness('fallback', { rejectTransactions: true });
    patientId = await seedGoffPatient(h.sandbox);
  });
  afterAll(async () => h?.close());

  const one = (key: string) =>
    ['RiskAssessment', 'ClinicalImpression', 'Provenance'].map((t) => storedFor(h.sandbox, t, key).length);
  const devicesWith = (value: string) =>
    [...h.sandbox.repo.resourcesOf('Device')].filter((d) => (d as Device).identifier?.some((i) => i.value === value));

  it('When the CapabilityStatement lists no transaction, Then the resources are created one by one, in order, and linked by id', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'declared');
    const io = instrumentedFetch();
    const client = new FhirClient({ baseUrl: h.sandbox.baseUrl, fetch: io.fetch });
    const result = await writeBack(client, input, h.deps());
    expect(result).toMatchObject({ via: 'sequential', created: 3, existing: 0 });
    expect(io.sent.filter((s) => s.startsWith('POST'))).toEqual([
      'POST /Device',
      'POST /Device',
      'POST /RiskAssessment',
      'POST /ClinicalImpression',
      'POST /Provenance',
    ]);
    expect(one(key)).toEqual([1, 1, 1]);
    const [, , raRef, ciRef, provRef] = result.written;
    const ci = await client.read<ClinicalImpression>('ClinicalImpression', ciRef.split('/')[1]);
    const prov = await client.read<Provenance>('Provenance', provRef.split('/')[1]);
    expect(ci.prognosisReference).toEqual([{ reference: raRef }]);
    expect(prov.target.map((t) => t.reference)).toEqual([raRef, ciRef]);
    expect(prov.agent[0].who?.reference).toBe(result.written[0]);
  });

  it('When metadata is unavailable and the transaction POST gets 405, Then it falls back, and the client does not try a transaction again', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'refused');
    const io = instrumentedFetch({ noMetadata: true });
    const client = new FhirClient({ baseUrl: h.sandbox.baseUrl, fetch: io.fetch });
    const first = await writeBack(client, input, h.deps());
    expect(first).toMatchObject({ via: 'sequential', created: 3 });
    const second = await assessGoff(h.client, patientId, 'refused-again');
    const again = await writeBack(client, second.input, h.deps());
    expect(again).toMatchObject({ via: 'sequential', created: 3 });
    expect(io.sent.filter((s) => s === 'POST /')).toHaveLength(1); // one refused transaction, then never again
    expect(one(key)).toEqual([1, 1, 1]);
    expect(one(second.key)).toEqual([1, 1, 1]);
  });

  it('When the process crashes after step k of the sequence (k = 0..4 of 5)  and the write-back runs again, Then exactly one of each resource exists', async () => {
    for (let k = 0; k <= 4; k++) {
      const { input, key } = await assessGoff(h.client, patientId, `crash-${k}`);
      const output = { ...input.output, modelVersion: `0.1.${k}` }; // steps 1-2 create this run's model Device
      const prefix = `${h.prefix}-crash-${k}`;
      const crashing = new FhirClient({
        baseUrl: h.sandbox.baseUrl,
        fetch: instrumentedFetch({ crashAfterPosts: k }).fetch,
      });
      await expect(writeBack(crashing, { ...input, output }, h.deps({ keyPrefix: prefix }))).rejects.toThrow(
        /simulated crash/,
      );
      const resumed = await writeBack(
        new FhirClient({ baseUrl: h.sandbox.baseUrl }),
        { ...input, output },
        h.deps({ keyPrefix: prefix }),
      );
      expect(resumed.via).toBe('sequential');
      expect(resumed.created + resumed.existing, `k=${k}`).toBe(3);
      expect(resumed.existing, `k=${k}`).toBe(Math.max(0, k - 2)); // steps 3.. were outputs already stored
      expect(one(key), `k=${k}`).toEqual([1, 1, 1]);
      expect(devicesWith(`fhir-assess-risk-equations@0.1.${k}`), `k=${k}`).toHaveLength(1);
      await deleteKeys(h.conn, `${prefix}:*`);
    }
    expect(devicesWith('fhir-assess-service@0.1.0')).toHaveLength(1);
  });
});
