import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { type Config, loadConfig } from '../../src/config/config.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { DEFAULT_PATIENTS_FILE } from '../../src/paths.js';
import { type Sandbox, type SandboxRequestSeen, startSandbox } from '../../src/sandbox/index.js';
import { type RunningService, startService } from '../../src/service.js';
import { createLogger, type Logger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

/** A plain API key (>= 24 chars) the fixture's service accepts. */
export const API_KEY = 'test-api-key-0123456789abcdef';
export const ISSUER = 'https://idp.test.example';
export const AUDIENCE = 'https://fhir-assess.test.example';

/** A JWKS served over loopback HTTP, and a signer for tokens it verifies. */
export interface TestIdp {
  url: string;
  sign(
    claims: Record<string, unknown>,
    opts?: { expiresIn?: string; audience?: string; issuer?: string },
  ): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIdp(): Promise<TestIdp> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return {
    url,
    sign: (claims, opts = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(opts.issuer ?? ISSUER)
        .setAudience(opts.audience ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(opts.expiresIn ?? '5m')
        .sign(privateKey),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface ApiFixture {
  redis: TestRedis;
  sandbox: Sandbox;
  service: RunningService;
  cfg: Config;
  ehr: FhirClient;
  idp: TestIdp;
  /** `Patient/{id}` of the Goff 2013 worked example (PCE 5.38 %). */
  goffPatientId: string;
  close(): Promise<void>;
}

/**
 * Sandbox EHR (16 Synthea patients + the Goff example), real Redis, and the whole service (HTTP +
 * workers) with an API key and a JWKS-backed IdP configured. Each fixture has its own queue prefix.
 */
export async function startApiFixture(
  name: string,
  env: Record<string, string> | ((idp: TestIdp) => Record<string, string>) = {},
  logger: Logger = createLogger('silent'),
  onEhrResponse?: (seen: SandboxRequestSeen) => void,
): Promise<ApiFixture> {
  const redis = await useTestRedis();
  const sandbox = await startSandbox({ dataFiles: [DEFAULT_PATIENTS_FILE], logger: false, onResponse: onEhrResponse });
  const idp = await startTestIdp();
  const cfg = loadConfig({
    FHIR_BASE_URL: sandbox.baseUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `t-${name}-${process.pid}-${Date.now()}`,
    HOST: '127.0.0.1',
    PORT: '0',
    AS_OF: '2021-04-01',
    COALESCE_WINDOW_MS: '0',
    LOG_LEVEL: 'silent',
    API_KEYS: API_KEY,
    API_JWKS_URL: idp.url,
    API_ISSUER: ISSUER,
    API_AUDIENCE: AUDIENCE,
    ASSESS_SYNC_TIMEOUT_MS: '45000',
    EHR_RATE_LIMIT: '0',
    ...(typeof env === 'function' ? env(idp) : env),
  });
  const service = await startService(cfg, { http: true, workers: true }, logger, [createEmbeddedModel()]);
  const ehr = new FhirClient({ baseUrl: sandbox.baseUrl });
  const fixture = JSON.parse(readFileSync('test/fixtures/goff-2013-white-male.bundle.json', 'utf8')) as Bundle;
  const response = await ehr.transaction(fixture);
  const goffPatientId = response.entry![0].response!.location!.split('/')[1];
  return {
    redis,
    sandbox,
    service,
    cfg,
    ehr,
    idp,
    goffPatientId,
    close: async () => {
      await service.eventsQueue.obliterate({ force: true }).catch(() => {});
      await service.assessQueue.obliterate({ force: true }).catch(() => {});
      await service.validateQueue.obliterate({ force: true }).catch(() => {});
      const keys = await service.redis.keys(`${cfg.QUEUE_PREFIX}:*`).catch(() => [] as string[]);
      if (keys.length) await service.redis.del(...keys).catch(() => {});
      await service.close();
      await idp.close();
      await sandbox.close();
      await redis.stop();
    },
  };
}

/** Polls `probe` every 100 ms until it returns a value, for at most `limitMs`. */
export async function poll<T>(probe: () => Promise<T | undefined>, limitMs: number, what: string): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
