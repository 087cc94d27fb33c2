import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import type { EhrQuirks } from '../../src/sandbox/ehr-quirks.js';
import { WriteBackEntryError } from '../../src/writeback/reply-entries.js';
import { writeBack } from '../../src/writeback/write-back.js';
import { assessGoff, type Harness, seedGoffPatient, startHarness, storedFor } from './harness.js';

type Rewrite = (
  req: { method: string; path: string; body: string },
  forward: () => Promise<Response>,
) => Promise<Response> | Response;

/** A fetch over real HTTP that logs `METHOD /path` and lets a test answer instead of, or reshape, the EHR. */
function wire(rewrite?: Rewrite) {
  const sent: string[] = [];
  const f: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const path = url.pathname.replace(/^\/fhir\/R4\/?/, '/');
    const body = typeof init?.body === 'string' ? init.body : '';
    sent.push(`${method} ${path}${kindOf(body)}`);
    const forward = () => fetch(input, init);
    return rewrite
      ? rewrite({ method, path, body: typeof init?.body === 'string' ? init.body : '' }, forward)
      : forward();
  };
  return { fetch: f, sent };
}

/** Which Bundle a POST to the base is: the write (conditional creates), a supersede (PUTs), or a batch of searches/reads. */
function kindOf(body: string): string {
  if (body.includes('"transaction"')) return body.includes('"ifNoneExist"') ? ' write' : ' supersede';
  if (body.includes('"batch"')) return body.includes('?') ? ' searches' : ' reads';
  return '';
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/fhir+json', ...headers } });
/** The write-back's own transaction (conditional creates), not a supersede. */
const isTransaction = (r: { method: string; path: string; body: string }) =>
  r.method === 'POST' && r.path === '/' && kindOf(r.body) === ' write';

/** Each reply shape FHIR allows, through the real write-back against the sandbox with the matching quirk. */
describe.each<[string, EhrQuirks]>([
  ['Medplum: empty body on return=minimal', { minimalReply: 'empty' }],
  ['HAPI: entries keep response, lose resource', { minimalReply: 'no-resources' }],
  ['default: return=minimal ignored, resources back', {}],
])('write-back reply shapes, %s', (_name, quirks) => {
  let h: Harness;
  let patientId: string;

  beforeAll(async () => {
    h = await startHarness(`shape-${quirks.minimalReply ?? 'default'}`, quirks);
    patientId = await seedGoffPatient(h.sandbox);
  });
  afterAll(async () => h?.close());

  const one = (key: string) =>
    ['RiskAssessment', 'ClinicalImpression', 'Provenance'].map((t) => storedFor(h.sandbox, t, key).length);

  it('When an assessment is written as a transaction, Then it completes, names the stored resources, and a replay duplicates nothing', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'tx');
    const io = wire();
    const client = new FhirClient({ baseUrl: h.sandbox.baseUrl, fetch: io.fetch });
    const first = await writeBack(client, input, h.deps());
    expect(first).toMatchObject({ via: 'transaction', created: 3, existing: 0 });
    for (const [type, n] of [
      ['RiskAssessment', 2],
      ['ClinicalImpression', 3],
      ['Provenance', 4],
    ] as const) {
      expect(first.written[n]).toBe(`${type}/${storedFor(h.sandbox, type, key)[0].id}`);
    }
    // Only a reply that says nothing (Medplum's empty body) costs one more round trip: one batch of searches.
    expect(io.sent.filter((s) => s.startsWith('POST / '))).toEqual(
      quirks.minimalReply === 'empty' ? ['POST / write', 'POST / searches'] : ['POST / write'],
    );
    const before = io.sent.length;
    const replay = await writeBack(client, { ...input, now: new Date(Date.now() + 1000) }, h.deps());
    expect(replay).toMatchObject({ via: 'transaction', created: 0, existing: 3 });
    expect(replay.written).toEqual(first.written);
    // Medplum's empty reply taught the client to ask for the representation: no second lookup.
    expect(io.sent.slice(before).filter((s) => s.startsWith('POST / '))).toEqual(['POST / write']);
    expect(one(key)).toEqual([1, 1, 1]);
  });

  it('When the EHR refuses transactions, Then the single creates work on its reply shape too, and a replay duplicates nothing', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'seq');
    // The metadata says no transactions: the same sandbox, seen through a CapabilityStatement without them.
    const io = wire(async (req, forward) => {
      if (req.path !== '/metadata') return forward();
      const cs = (await (await forward()).json()) as { rest: { interaction: { code: string }[] }[] };
      for (const rest of cs.rest) rest.interaction = rest.interaction.filter((i) => i.code !== 'transaction');
      return json(cs);
    });
    const client = new FhirClient({ baseUrl: h.sandbox.baseUrl, fetch: io.fetch });
    const first = await writeBack(client, input, h.deps());
    expect(first).toMatchObject({ via: 'sequential', created: 3, existing: 0 });
    expect(first.written[3]).toBe(`ClinicalImpression/${storedFor(h.sandbox, 'ClinicalImpression', key)[0].id}`);
    const replay = await writeBack(client, { ...input, now: new Date(Date.now() + 1000) }, h.deps());
    expect(replay).toMatchObject({ via: 'sequential', created: 0, existing: 3 });
    expect(replay.written).toEqual(first.written);
    expect(one(key)).toEqual([1, 1, 1]);
  });
});

/** Shapes no sandbox quirk produces, made by reshaping the sandbox's real answers on the wire. */
describe('write-back reply shapes the wire is reshaped into', () => {
  let h: Harness;
  let patientId: string;

  beforeAll(async () => {
    h = await startHarness('shape-wire');
    patientId = await seedGoffPatient(h.sandbox);
  });
  afterAll(async () => h?.close());

  const client = (rewrite: Rewrite) => {
    const io = wire(rewrite);
    return { client: new FhirClient({ baseUrl: h.sandbox.baseUrl, fetch: io.fetch }), sent: io.sent };
  };
  const one = (key: string) =>
    ['RiskAssessment', 'ClinicalImpression', 'Provenance'].map((t) => storedFor(h.sandbox, t, key).length);

  it('When a committed transaction is answered 200 with only an OperationOutcome, Then the resources are found and the job completes', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'oo-only');
    const c = client(async (req, forward) => {
      const res = await forward();
      if (!isTransaction(req)) return res;
      return json({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
    });
    const result = await writeBack(c.client, input, h.deps());
    expect(result).toMatchObject({ via: 'transaction', created: 3 });
    expect(result.written[3]).toBe(`ClinicalImpression/${storedFor(h.sandbox, 'ClinicalImpression', key)[0].id}`);
    expect(one(key)).toEqual([1, 1, 1]);
  });

  it('When entries say "201 Created" / "200 OK" with neither location nor resource, Then the statuses count and the ids are looked up', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'status-text');
    const c = client(async (req, forward) => {
      const res = await forward();
      if (!isTransaction(req)) return res;
      const bundle = (await res.json()) as Bundle;
      for (const e of bundle.entry ?? []) {
        e.response = { status: e.response?.status === '201' ? '201 Created' : '200 OK' };
        delete e.resource;
      }
      return json(bundle);
    });
    const result = await writeBack(c.client, input, h.deps());
    expect(result).toMatchObject({ via: 'transaction', created: 3, existing: 0 });
    // The transaction, then one batch of searches (then the superseding of the previous test's assessment).
    expect(c.sent.filter((s) => s === 'POST / write' || s === 'POST / searches')).toEqual([
      'POST / write',
      'POST / searches',
    ]);
    expect(result.written[4]).toBe(`Provenance/${storedFor(h.sandbox, 'Provenance', key)[0].id}`);
  });

  it('When a single create answers 201 with no body and no Location, Then the id is found by its condition', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'bare-201');
    const c = client(async (req, forward) => {
      if (isTransaction(req))
        return json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported' }] }, 405);
      const res = await forward();
      return req.method === 'POST' && req.path !== '/' ? new Response(null, { status: res.status }) : res;
    });
    const result = await writeBack(c.client, input, h.deps({ keyPrefix: `${h.prefix}-bare` }));
    expect(result).toMatchObject({ via: 'sequential', created: 3 });
    expect(result.written[3]).toBe(`ClinicalImpression/${storedFor(h.sandbox, 'ClinicalImpression', key)[0].id}`);
    expect(one(key)).toEqual([1, 1, 1]);
  });

  it('When an entry reports an error, Then the write-back fails naming the entry and the EHR OperationOutcome', async () => {
    const { input } = await assessGoff(h.client, patientId, 'entry-error');
    const outcome: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'invalid', diagnostics: 'ClinicalImpression.status: unknown code' }],
    };
    const c = client(async (req, forward) => {
      const res = await forward();
      if (!isTransaction(req)) return res;
      const bundle = (await res.json()) as Bundle;
      const entry = bundle.entry?.[1];
      if (entry) entry.response = { status: '400 Bad Request', outcome };
      return json(bundle);
    });
    const err = await writeBack(c.client, input, h.deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WriteBackEntryError);
    expect((err as WriteBackEntryError).status).toBe(400);
    expect((err as Error).message).toMatch(/entry 1 \(ClinicalImpression\) failed with status 400/);
    expect((err as Error).message).toMatch(/ClinicalImpression.status: unknown code/);
  });

  it('When the EHR answers 200 with an empty body but nothing was stored, Then the write-back fails (retryable) instead of claiming success', async () => {
    const { input } = await assessGoff(h.client, patientId, 'lost');
    // Never forwarded: the answer comes before the sandbox stores anything.
    const c = client((req, forward) => (isTransaction(req) ? new Response(null, { status: 200 }) : forward()));
    const err = await writeBack(c.client, input, h.deps({ keyPrefix: `${h.prefix}-lost` })).catch((e: unknown) => e);
    expect(storedFor(h.sandbox, 'RiskAssessment', input.key)).toEqual([]);
    expect((err as Error).message).toMatch(/answered 200 to the transaction, but its RiskAssessment .* is not there/);
  });

  it.each([
    [
      'HTTP 413',
      () => json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'too-costly' }] }, 413),
    ],
    [
      'Medplum 400 "File too large"',
      () =>
        json(
          {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'error', code: 'invalid', details: { text: 'File too large' } }],
          },
          400,
        ),
    ],
    [
      'Medplum 400 "too many entries"',
      () =>
        json(
          {
            resourceType: 'OperationOutcome',
            issue: [
              {
                severity: 'error',
                code: 'invalid',
                details: { text: 'Transaction requires strict isolation but has too many entries' },
              },
            ],
          },
          400,
        ),
    ],
  ])(
    'When a transaction is refused as too large (%s), Then that plan goes as ordered single creates, and later ones still as transactions',
    async (name, refusal) => {
      const { input, key } = await assessGoff(h.client, patientId, `too-large-${name}`);
      let refuse = true;
      const c = client((req, forward) => (isTransaction(req) && refuse ? refusal() : forward()));
      const big = await writeBack(c.client, input, h.deps());
      expect(big).toMatchObject({ via: 'sequential', created: 3 });
      expect(one(key)).toEqual([1, 1, 1]);
      refuse = false;
      const next = await assessGoff(h.client, patientId, `after-${name}`);
      expect(await writeBack(c.client, next.input, h.deps())).toMatchObject({ via: 'transaction', created: 3 });
    },
  );
});
