import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import { decodeJwt, decodeProtectedHeader, exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SourceSchema } from '../../src/config/sources.js';
import { AuthError, FhirHttpError } from '../../src/fhir/fhir-errors.js';
import { createSourceClient } from '../../src/fhir/source-client.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { startTokenServer } from './token-server.js';

const CLIENT_ID = 'fhir-assess-test';
const SCOPE = 'system/*.rs system/RiskAssessment.c';
let sb: Sandbox;
let proxy: FaultProxy;
let patientId: string;

/** The EHR side: SMART discovery document, and 401 unless the bearer token is one the token server issued. */
function ehrRule(tokenUrl: string, accepts: (auth: string | undefined) => boolean, discovery: object = {}) {
  proxy.rule = (req) => {
    if (req.url.endsWith('/.well-known/smart-configuration')) {
      const body = {
        token_endpoint: tokenUrl,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
        capabilities: ['client-confidential-asymmetric', 'permission-v2'],
        ...discovery,
      };
      return { kind: 'status', status: 200, body };
    }
    return accepts(req.authorization) ? undefined : { kind: 'status', status: 401 };
  };
}

const source = (auth: unknown) => SourceSchema.parse({ name: 'ehr', fhirBaseUrl: proxy.baseUrl, auth });

beforeAll(async () => {
  sb = await startSandbox({ logger: false });
  const p = await sb.repo.createResource<Patient>({ resourceType: 'Patient', gender: 'female' });
  patientId = p.id;
  proxy = await startFaultProxy(sb.baseUrl);
});

afterEach(() => {
  proxy.requests.length = 0;
});

afterAll(async () => {
  await proxy?.close();
  await sb?.close();
});

describe('SMART Backend Services (private_key_jwt)', () => {
  it('When configured with an RS384 PEM key, Then it discovers the token endpoint, signs a valid assertion and caches the token', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS384', { extractable: true });
    const tokens = await startTokenServer({
      clientId: CLIENT_ID,
      publicKey,
      keyId: 'k1',
      alg: 'RS384',
      expiresIn: 300,
    });
    try {
      ehrRule(tokens.url, tokens.accepts);
      const pem = await exportPKCS8(privateKey);
      const client = createSourceClient(
        source({
          type: 'smart-backend',
          clientId: CLIENT_ID,
          privateKey: pem,
          keyId: 'k1',
          alg: 'RS384',
          scope: SCOPE,
        }),
      );
      for (let i = 0; i < 5; i++) expect((await client.read<Patient>('Patient', patientId)).id).toBe(patientId);
      expect(tokens.state.rejections).toEqual([]);
      expect(tokens.state.requests).toBe(1);
      expect(client.tokenRequests).toBe(1);
      const [claims] = tokens.state.verifiedAssertions;
      expect(claims).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: tokens.url });
      expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(300);
      expect(proxy.requests.filter((r) => r.url.includes('.well-known'))).toHaveLength(1);
      expect(proxy.requests.filter((r) => r.url.includes('/Patient/'))).toHaveLength(5);
    } finally {
      await tokens.close();
    }
  });

  it('When the token lives 1 s, Then it is refreshed shortly before expiry and no request ever carries an expired token', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const tokens = await startTokenServer({ clientId: CLIENT_ID, publicKey, keyId: 'ec1', alg: 'ES384', expiresIn: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'smart-key-'));
    try {
      ehrRule(tokens.url, tokens.accepts);
      writeFileSync(join(dir, 'key.jwk.json'), JSON.stringify(await exportJWK(privateKey)));
      const client = createSourceClient(
        source({
          type: 'smart-backend',
          clientId: CLIENT_ID,
          privateKey: `@${join(dir, 'key.jwk.json')}`,
          keyId: 'ec1',
          alg: 'ES384',
          scope: SCOPE,
          tokenUrl: tokens.url,
        }),
      );
      await client.read('Patient', patientId);
      await client.read('Patient', patientId);
      expect(client.tokenRequests).toBe(1); // cached within its lifetime
      const deadline = Date.now() + 10_000; // bounded poll: keep reading until the cache refreshes
      while (client.tokenRequests < 2 && Date.now() < deadline) await client.read('Patient', patientId);
      expect(client.tokenRequests).toBe(2);
      expect(client.stats.reauthenticated).toBe(0); // refreshed before expiry, not after a 401
      expect(proxy.requests.some((r) => r.url.includes('.well-known'))).toBe(false); // tokenUrl configured
      expect(tokens.state.verifiedAssertions.map((c) => c.jti)).toHaveLength(2);
    } finally {
      await tokens.close();
    }
  });

  it('When the EHR answers 401, Then the token is replaced and the request retried once; a second 401 is final (no loop)', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS384', { extractable: true });
    const tokens = await startTokenServer({
      clientId: CLIENT_ID,
      publicKey,
      keyId: 'k1',
      alg: 'RS384',
      expiresIn: 300,
    });
    try {
      ehrRule(tokens.url, tokens.accepts);
      const client = createSourceClient(
        source({
          type: 'smart-backend',
          clientId: CLIENT_ID,
          privateKey: await exportPKCS8(privateKey),
          keyId: 'k1',
          scope: SCOPE,
        }),
      );
      await client.read('Patient', patientId);
      tokens.revokeAll(); // e.g. the EHR rotated its signing keys
      expect((await client.read<Patient>('Patient', patientId)).id).toBe(patientId);
      expect(client.stats.reauthenticated).toBe(1);
      expect(client.tokenRequests).toBe(2);

      ehrRule(tokens.url, () => false); // the EHR refuses every token (e.g. missing scope)
      proxy.requests.length = 0;
      const err = await client.read('Patient', patientId).catch((e) => e);
      expect(err).toBeInstanceOf(FhirHttpError);
      expect(err.status).toBe(401);
      expect(proxy.requests.filter((r) => r.url.includes('/Patient/'))).toHaveLength(2);
      expect(client.tokenRequests).toBe(3);
    } finally {
      await tokens.close();
    }
  });

  it('When the token endpoint does not know the key id, Then the read fails with a clear AuthError and no data request is sent', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS384', { extractable: true });
    const tokens = await startTokenServer({
      clientId: CLIENT_ID,
      publicKey,
      keyId: 'registered',
      alg: 'RS384',
      expiresIn: 300,
    });
    try {
      ehrRule(tokens.url, tokens.accepts);
      const client = createSourceClient(
        source({
          type: 'smart-backend',
          clientId: CLIENT_ID,
          privateKey: await exportPKCS8(privateKey),
          keyId: 'other',
          scope: SCOPE,
        }),
      );
      const err = await client.read('Patient', patientId).catch((e) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect(err.message).toContain('HTTP 401: invalid_client');
      expect(proxy.requests.filter((r) => r.url.includes('/Patient/'))).toHaveLength(0);
    } finally {
      await tokens.close();
    }
  });

  it('When the SMART configuration lacks private_key_jwt, Then discovery fails naming what is missing', async () => {
    ehrRule('http://127.0.0.1:1/token', () => true, { token_endpoint_auth_methods_supported: ['client_secret_basic'] });
    const { privateKey } = await generateKeyPair('RS384', { extractable: true });
    const client = createSourceClient(
      source({
        type: 'smart-backend',
        clientId: CLIENT_ID,
        privateKey: await exportPKCS8(privateKey),
        keyId: 'k',
        scope: SCOPE,
      }),
    );
    const err = await client.read('Patient', patientId).catch((e) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toContain('does not support auth method private_key_jwt');
  });

  it('When the key does not fit the algorithm, Then it says so without printing the key', async () => {
    ehrRule('http://127.0.0.1:1/token', () => true);
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    const pem = await exportPKCS8(privateKey);
    const client = createSourceClient(
      source({ type: 'smart-backend', clientId: CLIENT_ID, privateKey: pem, keyId: 'k', alg: 'RS384', scope: SCOPE }),
    );
    const err = await client.read('Patient', patientId).catch((e) => e);
    expect(err.message).toContain('does not fit RS384');
    expect(err.message).not.toContain('PRIVATE KEY');
  });
});

describe('OAuth client credentials (client secret)', () => {
  it('When the secret is right, Then one token serves many requests; when wrong, Then an AuthError names the OAuth error', async () => {
    const tokens = await startTokenServer({ clientId: CLIENT_ID, clientSecret: 'right-secret', expiresIn: 300 });
    try {
      ehrRule(tokens.url, tokens.accepts);
      const good = createSourceClient(
        source({ type: 'client-credentials', clientId: CLIENT_ID, clientSecret: 'right-secret', tokenUrl: tokens.url }),
      );
      for (let i = 0; i < 3; i++) await good.read('Patient', patientId);
      expect(good.tokenRequests).toBe(1);
      const bad = createSourceClient(
        source({ type: 'client-credentials', clientId: CLIENT_ID, clientSecret: 'wrong-secret', tokenUrl: tokens.url }),
      );
      const err = await bad.read('Patient', patientId).catch((e) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect(err.message).toContain('invalid_client');
      expect(err.message).not.toContain('wrong-secret');
    } finally {
      await tokens.close();
    }
  });

  it('When the token endpoint is plain http on another host, Then the client refuses to be built', () => {
    expect(() =>
      createSourceClient(
        source({
          type: 'client-credentials',
          clientId: 'x',
          clientSecret: 'y',
          tokenUrl: 'http://auth.example.org/token',
        }),
      ),
    ).toThrow(/must use https/);
  });
});

describe('client assertion', () => {
  it('carries alg, kid and typ JWT in its header, a unique jti, and a lifetime under 5 minutes', async () => {
    const { signClientAssertion } = await import('../../src/fhir/auth/smart-backend.js');
    const { privateKey } = await generateKeyPair('ES384');
    const s = { alg: 'ES384' as const, keyId: 'ec1', clientId: CLIENT_ID, tokenUrl: 'https://ehr.example/token' };
    const [a, b] = [await signClientAssertion(privateKey, s), await signClientAssertion(privateKey, s)];
    expect(decodeProtectedHeader(a)).toEqual({ alg: 'ES384', kid: 'ec1', typ: 'JWT' });
    const claims = decodeJwt(a);
    expect(claims).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: 'https://ehr.example/token' });
    expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(300);
    expect(claims.jti).not.toBe(decodeJwt(b).jti);
  });
});
