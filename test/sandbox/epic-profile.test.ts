import { randomUUID } from 'node:crypto';
import type { Bundle, CapabilityStatement, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { type CryptoKey, exportJWK, exportPKCS8, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceSchema } from '../../src/config/sources.js';
import { createSourceClient } from '../../src/fhir/source-client.js';
import { type Sandbox, SandboxOptionsError, startSandbox } from '../../src/sandbox/index.js';
import { waitFor } from './receiver.js';

const CLIENT_ID = 'fhir-assess-epic-test';
const SCOPE = 'system/*.rs system/RiskAssessment.c';
let sb: Sandbox;
let rsKey: CryptoKey;
let esKey: CryptoKey;
let strangerKey: CryptoKey;
let rsPublic: JWK;
let patientId: string;

async function publicJwk(key: CryptoKey, kid: string, alg: string): Promise<JWK> {
  return { ...(await exportJWK(key)), kid, alg, use: 'sig' };
}

beforeAll(async () => {
  const rs = await generateKeyPair('RS384', { extractable: true });
  const es = await generateKeyPair('ES384', { extractable: true });
  rsKey = rs.privateKey;
  esKey = es.privateKey;
  strangerKey = (await generateKeyPair('RS384', { extractable: true })).privateKey;
  rsPublic = await publicJwk(rs.publicKey, 'rs-1', 'RS384');
  const jwks = { keys: [rsPublic, await publicJwk(es.publicKey, 'es-1', 'ES384')] };
  sb = await startSandbox({ behave: 'epic', logger: false, smartClients: [{ clientId: CLIENT_ID, jwks }] });
  patientId = (await sb.repo.createResource<Patient>({ resourceType: 'Patient', gender: 'male' })).id;
});

afterAll(async () => {
  await sb?.close();
});

interface AssertionOverrides {
  key?: CryptoKey;
  alg?: 'RS384' | 'ES384';
  kid?: string;
  aud?: string;
  iss?: string;
  expInS?: number;
  jti?: string;
  typ?: string;
}

function assertion(o: AssertionOverrides = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iss = o.iss ?? CLIENT_ID;
  return new SignJWT({})
    .setProtectedHeader({ alg: o.alg ?? 'RS384', kid: o.kid ?? 'rs-1', typ: o.typ ?? 'JWT' })
    .setIssuer(iss)
    .setSubject(iss)
    .setAudience(o.aud ?? (sb.tokenUrl as string))
    .setJti(o.jti ?? randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expInS ?? 240))
    .sign(o.key ?? rsKey);
}

async function tokenRequest(form: Record<string, string>) {
  const res = await fetch(sb.tokenUrl as string, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string | number> };
}

async function requestToken(o: AssertionOverrides = {}, scope = SCOPE) {
  return tokenRequest({
    grant_type: 'client_credentials',
    scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await assertion(o),
  });
}

async function get(path: string, token?: string) {
  const res = await fetch(path.startsWith('http') ? path : `${sb.baseUrl}/${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function send(method: string, path: string, body: unknown, token: string) {
  const res = await fetch(`${sb.baseUrl}/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as OperationOutcome };
}

async function validToken(): Promise<string> {
  const res = await requestToken();
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

describe('epic profile: discovery is public', () => {
  it('serves metadata without a token: no Subscription, no $everything, no batch/transaction, the token URL in rest.security', async () => {
    const res = await get('metadata');
    expect(res.status).toBe(200);
    const cs = res.body as CapabilityStatement;
    const rest = cs.rest?.[0];
    expect(rest?.resource?.some((r) => r.type === 'Subscription')).toBe(false);
    expect(rest?.resource?.some((r) => r.type === 'Observation')).toBe(true);
    const patientOps = rest?.resource?.find((r) => r.type === 'Patient')?.operation?.map((o) => o.name);
    expect(patientOps).toEqual(['export']);
    expect(rest?.interaction ?? []).toEqual([]);
    expect(cs.instantiates).toBeUndefined();
    const oauth = rest?.security?.extension?.[0];
    expect(oauth?.extension).toEqual([{ url: 'token', valueUri: sb.tokenUrl }]);
  });

  it('serves .well-known/smart-configuration for Backend Services', async () => {
    const res = await get('.well-known/smart-configuration');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      token_endpoint: sb.tokenUrl,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    });
    expect(sb.tokenUrl).toBe(`http://127.0.0.1:${sb.port}/oauth2/token`);
  });
});

describe('epic profile: SMART Backend Services', () => {
  it('answers 401 with WWW-Authenticate without a token, or with a token it did not issue', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const res = await get(`Patient/${patientId}`, token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect((res.body as OperationOutcome).issue[0].code).toBe('login');
    }
  });

  it('issues a short-lived token for an RS384 or ES384 assertion, and the FHIR API answers with it', async () => {
    for (const o of [{}, { key: esKey, alg: 'ES384' as const, kid: 'es-1' }]) {
      const res = await requestToken(o);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'bearer', expires_in: 300, scope: SCOPE });
      const read = await get(`Patient/${patientId}`, res.body.access_token as string);
      expect(read.status).toBe(200);
      expect(read.body.id).toBe(patientId);
    }
  });

  it.each([
    ['a key the client did not register', () => ({ key: strangerKey })],
    ['an unknown kid', () => ({ kid: 'nope' })],
    ['the wrong audience', () => ({ aud: 'http://127.0.0.1:1/oauth2/token' })],
    ['an unknown client', () => ({ iss: 'someone-else' })],
    ['exp more than 5 minutes ahead', () => ({ expInS: 600 })],
    ['an expired assertion', () => ({ expInS: -60 })],
    ['a typ other than JWT', () => ({ typ: 'at+jwt' })],
  ])('refuses an assertion with %s (401 invalid_client)', async (_what, overrides) => {
    // Thunks: the keys only exist once beforeAll ran.
    const res = await requestToken((overrides as () => AssertionOverrides)());
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(JSON.stringify(res.body)).not.toContain('eyJ'); // never echoes the assertion
  });

  it('refuses a replayed jti, a wrong grant type and non-system scopes', async () => {
    const jti = randomUUID();
    expect((await requestToken({ jti })).status).toBe(200);
    expect((await requestToken({ jti })).body).toMatchObject({ error: 'invalid_client' });
    const grant = await tokenRequest({ grant_type: 'password', client_assertion: await assertion() });
    expect(grant).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    expect((await requestToken({}, 'patient/*.read')).body).toMatchObject({ error: 'invalid_scope' });
  });

  it('lets a token expire', async () => {
    const short = await startSandbox({
      behave: 'epic',
      logger: false,
      smartClients: [{ clientId: CLIENT_ID, jwks: { keys: [rsPublic] } }],
      quirks: { smartBackendAuth: { tokenLifetimeS: 1 } },
    });
    try {
      const res = await fetch(short.tokenUrl as string, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: SCOPE,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await assertion({ aud: short.tokenUrl }),
        }),
      });
      const token = ((await res.json()) as { access_token: string; expires_in: number }).access_token;
      const auth = { authorization: `Bearer ${token}` };
      expect((await fetch(`${short.baseUrl}/Patient`, { headers: auth })).status).toBe(200);
      await waitFor(async () =>
        (await fetch(`${short.baseUrl}/Patient`, { headers: auth })).status === 401 ? true : undefined,
      );
    } finally {
      await short.close();
    }
  });

  it('works with our own SMART Backend Services client (discovery, assertion, token cache)', async () => {
    const client = createSourceClient(
      SourceSchema.parse({
        name: 'epic',
        fhirBaseUrl: sb.baseUrl,
        auth: {
          type: 'smart-backend',
          clientId: CLIENT_ID,
          privateKey: await exportPKCS8(esKey),
          keyId: 'es-1',
          alg: 'ES384',
          scope: SCOPE,
        },
      }),
    );
    expect((await client.read<Patient>('Patient', patientId)).id).toBe(patientId);
  });

  it('refuses to start without SMART clients, or with a private key in the JWKS', async () => {
    await expect(startSandbox({ behave: 'epic', logger: false })).rejects.toThrow(SandboxOptionsError);
    const privateJwk = { ...(await exportJWK(rsKey)), kid: 'rs-1' };
    await expect(
      startSandbox({ behave: 'epic', logger: false, smartClients: [{ clientId: 'x', jwks: { keys: [privateJwk] } }] }),
    ).rejects.toThrow(/private key/);
    await expect(
      startSandbox({ logger: false, smartClients: [{ clientId: 'x', jwks: { keys: [] } }] }),
    ).rejects.toThrow(SandboxOptionsError);
  });
});

describe('epic profile: what clients must do without push, $everything or Bundles', () => {
  it('has no Subscription resource: create and search answer 404 not-supported', async () => {
    const token = await validToken();
    const created = await send(
      'POST',
      'Subscription',
      {
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'x',
        criteria: 'Observation?',
        channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:1/notify' },
      },
      token,
    );
    expect(created.status).toBe(404);
    expect(created.body.issue[0]).toMatchObject({ code: 'not-supported' });
    expect(created.body.issue[0].details?.text).toMatch(/_lastUpdated/);
    expect((await get('Subscription?status=active', token)).status).toBe(404);
  });

  it('answers _lastUpdated polls', async () => {
    const token = await validToken();
    const since = new Date(Date.now() - 1000).toISOString();
    const obs = await send(
      'POST',
      'Observation',
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'x' },
        subject: { reference: `Patient/${patientId}` },
      },
      token,
    );
    expect(obs.status).toBe(201);
    const poll = await get(`Observation?_lastUpdated=gt${since}&_sort=_lastUpdated`, token);
    expect((poll.body as Bundle).entry?.map((e) => e.resource?.id)).toContain((obs.body as unknown as Patient).id);
  });

  it('refuses transaction and batch Bundles (405) and $everything (404)', async () => {
    const token = await validToken();
    for (const type of ['transaction', 'batch']) {
      const res = await send('POST', '', { resourceType: 'Bundle', type, entry: [] }, token);
      expect(res.status).toBe(405);
      expect(res.body.issue[0].details?.text).toBe(`${type} Bundles are not supported`);
    }
    const everything = await get(`Patient/${patientId}/$everything`, token);
    expect(everything.status).toBe(404);
    expect((everything.body as OperationOutcome).issue[0].code).toBe('not-supported');
  });

  it('runs Bulk $export with requiresAccessToken: true; the files need the token', async () => {
    const token = await validToken();
    const kickOff = await fetch(`${sb.baseUrl}/Patient/$export`, {
      headers: { authorization: `Bearer ${token}`, prefer: 'respond-async', accept: 'application/fhir+json' },
    });
    expect(kickOff.status).toBe(202);
    const status = kickOff.headers.get('content-location') as string;
    const manifest = await waitFor(async () => {
      const res = await get(status, token);
      return res.status === 200 ? res.body : undefined;
    });
    expect(manifest.requiresAccessToken).toBe(true);
    const patientFile = manifest.output.find((o: { type: string }) => o.type === 'Patient');
    expect((await fetch(patientFile.url)).status).toBe(401);
    const file = await fetch(patientFile.url, { headers: { authorization: `Bearer ${token}` } });
    expect(file.status).toBe(200);
    expect(await file.text()).toContain(patientId);
  });
});
