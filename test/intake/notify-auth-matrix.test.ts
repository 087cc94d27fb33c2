import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { type RunningService, startService } from '../../src/service.js';
import { freePort } from '../../src/util/local-redis.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { deletePrefix } from './helpers/harness.js';
import { medplumHeaders } from './helpers/notifications.js';

/*
 * Issue 10 item 3: a wrong X-Signature must be refused whatever combination of SOURCES_FILE and
 * environment configured the service, and a combination in which a secret would not apply must stop
 * start-up. Every accepted combination runs the real service (HTTP role) and is probed over real HTTP
 * with a Medplum-style notification signed with a wrong key, under a right, a wrong and no bearer.
 */
const BEARER = 'matrix-bearer-secret-0123456789';
const HMAC = 'matrix-hmac-secret-0123456789abc';
const WRONG_KEY = 'not-the-configured-key-0123456789';
const OTHER_BEARER = 'other-ehr-bearer-secret-0123456789';
const OTHER_HMAC = 'other-ehr-hmac-secret-0123456789';
/** Nothing listens here: the service never needs the EHR to answer /notify. */
const EHR = 'http://127.0.0.1:9/fhir/R4';

const dir = mkdtempSync(join(tmpdir(), 'notify-matrix-'));
let files = 0;
function sourcesFile(sources: unknown[]): string {
  const file = join(dir, `sources-${++files}.json`);
  writeFileSync(file, JSON.stringify(sources));
  return file;
}

interface Combination {
  name: string;
  env: Record<string, string>;
  /** The bearer secret of the source the probes claim to be (absent: it has none). */
  bearer?: string;
  /** The HMAC secret the source really has (absent: none), for the control request. */
  hmac?: string;
  /** A second EHR with its own secrets is configured. */
  twoEhrs?: boolean;
}

/** Combinations the configuration accepts: each must refuse every wrong signature. */
const accepted = (): Combination[] => [
  { name: 'env, no secrets (open development source)', env: { FHIR_BASE_URL: EHR } },
  { name: 'env, NOTIFY_SECRET only', env: { FHIR_BASE_URL: EHR, NOTIFY_SECRET: BEARER }, bearer: BEARER },
  { name: 'env, NOTIFY_HMAC_SECRET only', env: { FHIR_BASE_URL: EHR, NOTIFY_HMAC_SECRET: HMAC }, hmac: HMAC },
  {
    name: 'env, both secrets',
    env: { FHIR_BASE_URL: EHR, NOTIFY_SECRET: BEARER, NOTIFY_HMAC_SECRET: HMAC },
    bearer: BEARER,
    hmac: HMAC,
  },
  {
    name: 'SOURCES_FILE without a notify block, no env secrets',
    env: { SOURCES_FILE: sourcesFile([{ name: 'ehr', fhirBaseUrl: EHR }]) },
  },
  {
    name: 'SOURCES_FILE with notify.bearerSecrets',
    env: { SOURCES_FILE: sourcesFile([{ name: 'ehr', fhirBaseUrl: EHR, notify: { bearerSecrets: [BEARER] } }]) },
    bearer: BEARER,
  },
  {
    name: 'SOURCES_FILE with notify.hmacSecrets',
    env: { SOURCES_FILE: sourcesFile([{ name: 'ehr', fhirBaseUrl: EHR, notify: { hmacSecrets: [HMAC] } }]) },
    hmac: HMAC,
  },
  {
    name: 'SOURCES_FILE with both secrets',
    env: {
      SOURCES_FILE: sourcesFile([
        { name: 'ehr', fhirBaseUrl: EHR, notify: { bearerSecrets: [BEARER], hmacSecrets: [HMAC] } },
      ]),
    },
    bearer: BEARER,
    hmac: HMAC,
  },
  {
    name: 'SOURCES_FILE with two EHRs (signature by the other EHR key)',
    env: {
      SOURCES_FILE: sourcesFile([
        { name: 'ehr', fhirBaseUrl: EHR, notify: { bearerSecrets: [BEARER], hmacSecrets: [HMAC] } },
        { name: 'other', fhirBaseUrl: EHR, notify: { bearerSecrets: [OTHER_BEARER], hmacSecrets: [OTHER_HMAC] } },
      ]),
    },
    bearer: BEARER,
    hmac: HMAC,
    twoEhrs: true,
  },
];

/** Combinations in which an environment secret would be ignored: start-up must fail, naming each. */
const rejected = (): { name: string; env: Record<string, string>; names: string[] }[] => {
  const bare = sourcesFile([{ name: 'ehr', fhirBaseUrl: EHR }]);
  const withNotify = sourcesFile([{ name: 'ehr', fhirBaseUrl: EHR, notify: { bearerSecrets: [BEARER] } }]);
  return [
    {
      // The deployment the issue reports: the file has no notify block, the secrets are in the env.
      name: 'SOURCES_FILE without notify + NOTIFY_HMAC_SECRET, NOTIFY_SECRET, SUBSCRIBE_ON_START',
      env: { SOURCES_FILE: bare, NOTIFY_HMAC_SECRET: HMAC, NOTIFY_SECRET: BEARER, SUBSCRIBE_ON_START: 'true' },
      names: ['NOTIFY_HMAC_SECRET', 'NOTIFY_SECRET', 'SUBSCRIBE_ON_START'],
    },
    {
      name: 'SOURCES_FILE without notify + NOTIFY_HMAC_SECRET',
      env: { SOURCES_FILE: bare, NOTIFY_HMAC_SECRET: HMAC },
      names: ['NOTIFY_HMAC_SECRET'],
    },
    {
      name: 'SOURCES_FILE without notify + NOTIFY_SECRET',
      env: { SOURCES_FILE: bare, NOTIFY_SECRET: BEARER },
      names: ['NOTIFY_SECRET'],
    },
    {
      name: 'SOURCES_FILE with notify + NOTIFY_HMAC_SECRET',
      env: { SOURCES_FILE: withNotify, NOTIFY_HMAC_SECRET: HMAC },
      names: ['NOTIFY_HMAC_SECRET'],
    },
    {
      name: 'SOURCES_FILE with notify + both env secrets',
      env: { SOURCES_FILE: withNotify, NOTIFY_SECRET: OTHER_BEARER, NOTIFY_HMAC_SECRET: HMAC },
      names: ['NOTIFY_SECRET', 'NOTIFY_HMAC_SECRET'],
    },
  ];
};

const body = (id: string) =>
  JSON.stringify({ resourceType: 'Observation', id, meta: { versionId: '1' }, subject: { reference: 'Patient/p1' } });
const sign = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex');

let redis: TestRedis;
let n = 0;

beforeAll(async () => {
  redis = await useTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function serve(env: Record<string, string>): Promise<{ service: RunningService; prefix: string; url: string }> {
  const port = await freePort();
  const prefix = `t-matrix-${process.pid}-${Date.now()}-${++n}`;
  const cfg = loadConfig({
    ...env,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'silent',
  });
  const service = await startService(cfg, { http: true, workers: false }, createLogger('silent'), []);
  return { service, prefix, url: `http://127.0.0.1:${port}/notify` };
}

describe('a wrong X-Signature is refused under every accepted configuration (real HTTP)', () => {
  for (const c of accepted()) {
    it(`${c.name}: wrong-key, garbage and upper-cased wrong signatures get 401 under a right, a wrong and no bearer; nothing is stored`, async () => {
      const { service, prefix, url } = await serve(c.env);
      try {
        const stored = () => service.eventsQueue.count();
        const bearers: (string | undefined)[] = [c.bearer, 'wrong-bearer-secret-0123456789', undefined];
        let probes = 0;
        for (const bearer of bearers) {
          // The other EHR's key is a wrong key for this source; unsigned by a bearer it is the other EHR's own.
          const wrongKeys = c.twoEhrs && !bearer ? [WRONG_KEY] : [WRONG_KEY, OTHER_HMAC];
          for (const signature of [
            ...wrongKeys.map((k) => (text: string) => sign(k, text)),
            (text: string) => sign(WRONG_KEY, text).toUpperCase(),
            () => 'not-a-signature',
            () => '',
          ]) {
            const text = body(`m${++probes}`);
            const headers = {
              ...medplumHeaders(text, { subscription: 'Subscription/s1', interaction: 'update' }),
              'x-signature': signature(text),
              ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
            };
            const before = await stored();
            const res = await fetch(url, { method: 'POST', headers, body: text });
            const outcome = (await res.json()) as { resourceType: string; issue: { diagnostics: string }[] };
            expect(res.status, `${c.name}, bearer ${bearer ? 'given' : 'absent'}`).toBe(401);
            expect(outcome.resourceType).toBe('OperationOutcome');
            const said = outcome.issue[0].diagnostics;
            // The 401 says what to check: the secret that is missing, or the one that does not match.
            if (c.hmac)
              expect(said).toMatch(
                /X-Signature does not match the body|different sources|Authorization does not match/,
              );
            else expect(said).toMatch(/no HMAC secret is configured.*NOTIFY_HMAC_SECRET/);
            expect(await stored()).toBe(before);
          }
        }

        // Controls (the probes above can fail): the correct signature, in either hex case, is accepted.
        if (c.hmac) {
          for (const upper of [false, true]) {
            const text = body(`ok-${upper}`);
            const sig = sign(c.hmac, text);
            const headers = {
              ...medplumHeaders(text, { subscription: 'Subscription/s1', interaction: 'update' }),
              'x-signature': upper ? sig.toUpperCase() : sig,
              ...(c.bearer ? { authorization: `Bearer ${c.bearer}` } : {}),
            };
            const res = await fetch(url, { method: 'POST', headers, body: text });
            expect(res.status).toBe(200);
          }
        }
        if (!c.hmac) {
          // Without a signature the source's own way in still works (bearer, or open).
          const text = body('unsigned');
          const headers = {
            ...medplumHeaders(text, { subscription: 'Subscription/s1', interaction: 'update' }),
            ...(c.bearer ? { authorization: `Bearer ${c.bearer}` } : {}),
          };
          expect((await fetch(url, { method: 'POST', headers, body: text })).status).toBe(200);
        }
      } finally {
        await service.close();
        await deletePrefix(redis.url, prefix);
      }
    });
  }
});

describe('start-up refuses settings that would not apply', () => {
  for (const c of rejected()) {
    it(`${c.name}: loadConfig throws one ConfigError naming each variable and the file field to use`, () => {
      const attempt = () => loadConfig({ ...c.env, REDIS_URL: 'redis://127.0.0.1:6379' });
      expect(attempt).toThrow(ConfigError);
      try {
        attempt();
      } catch (e) {
        const problems = (e as ConfigError).problems;
        for (const name of c.names)
          expect(problems.some((p) => p.startsWith(`${name}: set together with SOURCES_FILE`))).toBe(true);
        expect((e as ConfigError).message).not.toContain(HMAC); // secrets are never echoed
        expect((e as ConfigError).message).not.toContain(BEARER);
      }
    });
  }

  const CLI = 'dist/cli.js';
  it.skipIf(!existsSync(CLI))(
    'When the reported deployment is started through the real CLI, Then it exits 78 listing every conflict',
    async () => {
      const [c] = rejected();
      const err = await promisify(execFile)('node', [CLI, 'serve'], {
        env: { PATH: process.env.PATH, ...c.env, REDIS_URL: 'redis://127.0.0.1:1' },
      }).catch((e) => e);
      expect(err.code).toBe(78);
      for (const name of c.names) expect(err.stderr).toContain(`${name}: set together with SOURCES_FILE`);
      expect(err.stderr).toContain('"notify": { "hmacSecrets"');
      expect(err.stderr).toMatch(/Invalid configuration \(3 problems\)/);
    },
  );
});
