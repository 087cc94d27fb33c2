import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ForeignUrlError, UnsafePathError } from '../../src/fhir/base-url-guard.js';
import {
  FhirClient,
  FhirConnectionError,
  FhirHttpError,
  FhirResponseTooLargeError,
} from '../../src/fhir/fhir-client.js';
import { backoffMs, DEFAULT_RETRY_POLICY, parseRetryAfter } from '../../src/fhir/retry-policy.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { fixtureTransaction } from '../sandbox/fixtures.js';
import { type FaultProxy, startFaultProxy, startForeignHost } from './fault-proxy.js';

let sb: Sandbox;
let proxy: FaultProxy;
let patientA: string;
const oo = (code: string, diagnostics: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: code as 'invalid', diagnostics }],
});

/** A client through the proxy with fast backoff, so retry tests take milliseconds, not seconds. */
const client = (over: Partial<ConstructorParameters<typeof FhirClient>[0]> = {}) =>
  new FhirClient({ baseUrl: proxy.baseUrl, maxAttempts: 3, retry: { baseDelayMs: 10, maxDelayMs: 50 }, ...over });

beforeAll(async () => {
  sb = await startSandbox({ logger: false });
  await new FhirClient({ baseUrl: sb.baseUrl }).transaction(fixtureTransaction());
  const [a] = await new FhirClient({ baseUrl: sb.baseUrl }).searchAll<Patient>('Patient', { identifier: 'urn:mrn|A' });
  patientA = a.id as string;
  proxy = await startFaultProxy(sb.baseUrl);
});

afterEach(() => {
  proxy.rule = () => undefined;
  proxy.requests.length = 0;
  proxy.maxInFlight = 0;
});

afterAll(async () => {
  await proxy?.close();
  await sb?.close();
});

describe('retries', () => {
  it('When the EHR answers 429 with Retry-After: 1, Then the client waits about a second and succeeds', async () => {
    proxy.rule = (_r, i) => (i === 0 ? { kind: 'status', status: 429, headers: { 'retry-after': '1' } } : undefined);
    const c = client();
    const started = Date.now();
    const p = await c.read<Patient>('Patient', patientA);
    expect(p.id).toBe(patientA);
    expect(proxy.requests).toHaveLength(2);
    expect(c.stats).toMatchObject({ requests: 2, retries: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950); // honoured, not the 10 ms backoff
  });

  it('When Retry-After exceeds the cap, Then it fails at once, retryable, carrying the delay for the job queue', async () => {
    proxy.rule = () => ({
      kind: 'status',
      status: 503,
      headers: { 'retry-after': '120' },
      body: oo('transient', 'maintenance'),
    });
    const err = await client()
      .read('Patient', patientA)
      .catch((e) => e);
    expect(err).toBeInstanceOf(FhirHttpError);
    expect(err.status).toBe(503);
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(120_000);
    expect(proxy.requests).toHaveLength(1);
  });

  it('When the EHR answers 503 twice, Then the third attempt succeeds', async () => {
    proxy.rule = (_r, i) => (i < 2 ? { kind: 'status', status: 503 } : undefined);
    const p = await client().read<Patient>('Patient', patientA);
    expect(p.id).toBe(patientA);
    expect(proxy.requests).toHaveLength(3);
  });

  it('When the EHR keeps answering 503, Then the error carries the status and the EHR OperationOutcome after maxAttempts', async () => {
    proxy.rule = () => ({ kind: 'status', status: 503, body: oo('transient', 'database is down') });
    const err = await client()
      .read('Patient', patientA)
      .catch((e) => e);
    expect(err).toBeInstanceOf(FhirHttpError);
    expect(err.status).toBe(503);
    expect(err.outcome.issue[0].diagnostics).toBe('database is down');
    expect(proxy.requests).toHaveLength(3);
  });

  it('When the EHR answers 400, Then nothing is retried and its OperationOutcome is attached', async () => {
    proxy.rule = () => ({ kind: 'status', status: 400, body: oo('invalid', 'unknown parameter foo') });
    const err = await client()
      .get('Observation', { foo: 'bar' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(FhirHttpError);
    expect(err.status).toBe(400);
    expect(err.retryable).toBe(false);
    expect(err.outcome.issue[0].diagnostics).toBe('unknown parameter foo');
    expect(proxy.requests).toHaveLength(1);
  });

  it('When the connection is dropped once, Then the request is repeated and succeeds', async () => {
    proxy.rule = (_r, i) => (i === 0 ? { kind: 'drop' } : undefined);
    const p = await client().read<Patient>('Patient', patientA);
    expect(p.id).toBe(patientA);
    expect(proxy.requests).toHaveLength(2);
  });

  it('When every answer is slower than the timeout, Then it fails with a clear connection error after maxAttempts', async () => {
    proxy.rule = () => ({ kind: 'delay', ms: 5_000 });
    const err = await client({ timeoutMs: 300, maxAttempts: 2 })
      .read('Patient', patientA)
      .catch((e) => e);
    expect(err).toBeInstanceOf(FhirConnectionError);
    expect(err.message).toContain(`GET /fhir/R4/Patient/${patientA}: no answer within the timeout (2 attempts)`);
    expect(proxy.requests).toHaveLength(2);
  });

  it('When a static bearer token gets 401, Then there is no retry (a static token cannot be refreshed)', async () => {
    proxy.rule = () => ({ kind: 'status', status: 401, body: oo('login', 'expired') });
    const err = await client({ bearerToken: 'static-token' })
      .read('Patient', patientA)
      .catch((e) => e);
    expect(err.status).toBe(401);
    expect(proxy.requests).toHaveLength(1);
    expect(proxy.requests[0].authorization).toBe('Bearer static-token');
  });

  it('parses Retry-After as seconds or an HTTP date, and backs off exponentially with jitter', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 31 Dec 2023 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffMs(policy, 1, () => 0)).toBe(50);
    expect(backoffMs(policy, 3, () => 0.5)).toBe(400);
    expect(backoffMs(policy, 10, () => 0.999)).toBeLessThanOrEqual(1500);
  });
});

describe('limits and the base-URL guard', () => {
  it('When a response exceeds maxResponseBytes, Then reading stops with a too-costly error', async () => {
    const err = await client({ maxResponseBytes: 2_000 })
      .get('Observation', { patient: `Patient/${patientA}`, _count: '25' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(FhirResponseTooLargeError);
    expect(err.outcome.issue[0].code).toBe('too-costly');
  });

  it('When many requests are made at once, Then at most maxConcurrency are in flight', async () => {
    proxy.rule = () => ({ kind: 'delay', ms: 50 });
    const c = client({ maxConcurrency: 2 });
    const all = await Promise.all(Array.from({ length: 8 }, () => c.read<Patient>('Patient', patientA)));
    expect(all.every((p) => p.id === patientA)).toBe(true);
    expect(proxy.requests).toHaveLength(8);
    expect(proxy.maxInFlight).toBe(2);
  });

  it('When a next link points to another host, Then paging stops before anything (the token included) is sent there', async () => {
    const foreign = await startForeignHost();
    try {
      proxy.rule = () => ({
        kind: 'rewrite',
        fn: (body) =>
          body.replace(
            /"relation":"next","url":"http:\/\/127\.0\.0\.1:\d+/,
            `"relation":"next","url":"${foreign.origin}`,
          ),
      });
      const c = client({ bearerToken: 'secret-token' });
      const err = await c.searchAll('Observation', { patient: `Patient/${patientA}`, _count: '5' }).catch((e) => e);
      expect(err).toBeInstanceOf(ForeignUrlError);
      expect(err.message).toContain(foreign.origin);
      expect(foreign.hits()).toBe(0);
      expect(proxy.requests).toHaveLength(1);
    } finally {
      await foreign.close();
    }
  });

  it('When the EHR repeats a next link, Then paging stops instead of looping', async () => {
    proxy.rule = () => ({
      kind: 'rewrite',
      fn: (body) => {
        // Every page says "next: page 2", as a buggy server might.
        const b = JSON.parse(body) as Bundle;
        b.link = [
          { relation: 'next', url: `${proxy.baseUrl}/Observation?patient=Patient/${patientA}&_count=5&_offset=5` },
        ];
        return JSON.stringify(b);
      },
    });
    const err = await client()
      .searchAll('Observation', { patient: `Patient/${patientA}`, _count: '5' })
      .catch((e) => e);
    expect(err.message).toContain('same next link twice');
    expect(proxy.requests).toHaveLength(2);
  });

  it('When a path resolves outside the base, Then it is refused without a request', async () => {
    const c = client();
    await expect(c.get('../../admin')).rejects.toBeInstanceOf(UnsafePathError);
    await expect(c.get('http://localhost:1/fhir/R4/Patient')).rejects.toBeInstanceOf(ForeignUrlError);
    expect(proxy.requests).toHaveLength(0);
  });
});

describe('CapabilityStatement discovery', () => {
  it('summarises interactions, operations, search parameters and version, and caches them', async () => {
    const c = client();
    const caps = await c.capabilities();
    expect(caps).toMatchObject({ known: true, fhirVersion: '4.0.1', batch: true, transaction: true, everything: true });
    expect(caps.export).toEqual({ system: true, patient: true, group: true }); // the sandbox's Bulk Data $export
    const obs = caps.types.get('Observation');
    expect([...(obs?.searchParams ?? [])]).toEqual(
      expect.arrayContaining(['patient', 'category', 'date', '_lastUpdated']),
    );
    expect(obs?.interactions.has('search-type')).toBe(true);
    await c.capabilities();
    expect(proxy.requests.filter((r) => r.url.endsWith('/metadata'))).toHaveLength(1);
  });
});
