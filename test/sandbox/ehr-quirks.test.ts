import type { Bundle, Observation, Patient, Subscription } from '@medplum/fhirtypes';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type EhrQuirks, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { startReceiver, waitFor } from './receiver.js';

const sandboxes: Sandbox[] = [];
afterAll(async () => {
  for (const sb of sandboxes) await sb.close();
});

async function sandbox(quirks: EhrQuirks): Promise<Sandbox> {
  const sb = await startSandbox({ logger: false, quirks, notifyRetry: { attempts: 2, baseDelayMs: 20 } });
  sandboxes.push(sb);
  return sb;
}

async function call(sb: Sandbox, method: string, path: string, body?: unknown, prefer?: string) {
  const res = await fetch(`${sb.baseUrl}/${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
      ...(prefer ? { prefer } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const transaction: Bundle = {
  resourceType: 'Bundle',
  type: 'transaction',
  entry: [
    {
      fullUrl: 'urn:uuid:7d7cbd8e-0000-4000-8000-000000000001',
      resource: { resourceType: 'Patient', identifier: [{ system: 'urn:t', value: 'q1' }] },
      request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:t|q1' },
    },
  ],
};

describe('minimalReply quirk (Prefer: return=minimal)', () => {
  it('empty (Medplum): a transaction answers 200 with an empty body, and is committed', async () => {
    const sb = await sandbox({ minimalReply: 'empty' });
    const res = await call(sb, 'POST', '', transaction, 'return=minimal');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(sb.repo.count('Patient')).toBe(1);
    // Without the preference the same server answers with the transaction-response.
    const full = await call(sb, 'POST', '', transaction);
    expect(JSON.parse(full.text).type).toBe('transaction-response');
    expect(sb.repo.count('Patient')).toBe(1);
  });

  it('no-resources (HAPI): entries keep response.status/location but lose resource; a create keeps Location', async () => {
    const sb = await sandbox({ minimalReply: 'no-resources' });
    const res = await call(sb, 'POST', '', transaction, 'return=minimal');
    const bundle = JSON.parse(res.text) as Bundle;
    expect(bundle.type).toBe('transaction-response');
    expect(bundle.entry?.[0].resource).toBeUndefined();
    expect(bundle.entry?.[0].response?.status).toMatch(/^201/);
    const created = await call(sb, 'POST', 'Patient', { resourceType: 'Patient' } satisfies Patient, 'return=minimal');
    expect(created.status).toBe(201);
    expect(created.text).toBe('');
    expect(created.headers.get('location')).toMatch(/\/Patient\/[^/]+\/_history\/[^/]+$/);
  });

  it('errors keep their OperationOutcome', async () => {
    const sb = await sandbox({ minimalReply: 'empty' });
    const res = await call(sb, 'POST', '', { resourceType: 'Bundle', type: 'bogus' }, 'return=minimal');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(res.text).resourceType).toBe('OperationOutcome');
  });
});

describe('subscriptionActivation quirk', () => {
  const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.close();
  });

  const subscription = (endpoint: string, status: Subscription['status']): Subscription => ({
    resourceType: 'Subscription',
    status,
    reason: 'test',
    criteria: 'Observation?',
    channel: { type: 'rest-hook', endpoint },
  });
  const observation = (patient: string): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'x' },
    subject: { reference: `Patient/${patient}` },
  });

  it('client-set (Medplum): a requested Subscription stays requested and never fires; one stored active fires', async () => {
    const sb = await sandbox({ subscriptionActivation: 'client-set' });
    const receiver = await startReceiver();
    receivers.push(receiver);
    const patient = JSON.parse((await call(sb, 'POST', 'Patient', { resourceType: 'Patient' })).text).id as string;
    const requested = JSON.parse(
      (await call(sb, 'POST', 'Subscription', subscription(receiver.url, 'requested'))).text,
    );
    expect(requested.status).toBe('requested');
    await call(sb, 'POST', 'Observation', observation(patient));
    await sb.notifier.idle();
    expect(receiver.requests).toHaveLength(0);
    expect(sb.repo.peek<Subscription>('Subscription', requested.id)?.status).toBe('requested');

    await call(sb, 'PUT', `Subscription/${requested.id}`, { ...requested, status: 'active' });
    await call(sb, 'POST', 'Observation', observation(patient));
    await receiver.waitFor((r) => r.length === 1);
  });

  it('standard (default): a classic requested Subscription is active at once', async () => {
    const sb = await sandbox({});
    const receiver = await startReceiver();
    receivers.push(receiver);
    const created = JSON.parse((await call(sb, 'POST', 'Subscription', subscription(receiver.url, 'requested'))).text);
    expect(created.status).toBe('active');
    const patient = JSON.parse((await call(sb, 'POST', 'Patient', { resourceType: 'Patient' })).text).id as string;
    await call(sb, 'POST', 'Observation', observation(patient));
    await waitFor(() => (receiver.requests.length >= 1 ? true : undefined));
  });
});
