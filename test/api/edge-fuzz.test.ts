import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config/config.js';
import { UnsafePathError } from '../../src/fhir/base-url-guard.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { DEFAULT_PATIENTS_FILE } from '../../src/paths.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningService, startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

/**
 * Issue 16: bad input at the API edge. Every route, fuzzed with fast-check (>= 10k requests through
 * fastify's whole pipeline: routing, body parsers, schemas, auth, handlers): no answer is a 5xx, every
 * 4xx is a FHIR OperationOutcome. And ids that would change an EHR request's path (`..`, `%2e%2e`,
 * `/`-containing, over-long) are refused with 400 before any EHR request, on every route taking one.
 */
const API_KEY = 'edge-fuzz-api-key-0123456789abcdef';
const NOTIFY_SECRET = 'edge-fuzz-notify-secret-0123456789';
const ADMIN = { user: 'ops', password: 'edge-fuzz-admin-password' };
const FUZZ_RUNS = 10_500;

let redis: TestRedis;
let sandbox: Sandbox;
let service: RunningService;
let cfg: Config;
/** Ids of the patients loaded into the sandbox. */
let patientIds: string[] = [];
/** Paths (decoded) of every request the EHR answered. */
const ehrPaths: string[] = [];

beforeAll(async () => {
  redis = await useTestRedis();
  sandbox = await startSandbox({
    dataFiles: [DEFAULT_PATIENTS_FILE],
    patients: 4,
    logger: false,
    onResponse: (r) => ehrPaths.push(r.url.split('?')[0]),
  });
  patientIds = [...sandbox.repo.resourcesOf('Patient')].map((p) => p.id);
  cfg = loadConfig({
    FHIR_BASE_URL: sandbox.baseUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `t-edge-fuzz-${process.pid}-${Date.now()}`,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    API_KEYS: API_KEY,
    NOTIFY_SECRET,
    ADMIN_USER: ADMIN.user,
    ADMIN_PASSWORD: ADMIN.password,
    ASSESS_SYNC_TIMEOUT_MS: '0',
    COALESCE_WINDOW_MS: '0',
    EHR_RATE_LIMIT: '0',
  });
  service = await startService(cfg, { http: true, workers: true }, createLogger(process.env.FUZZ_LOG ?? 'silent'), [
    createEmbeddedModel(),
  ]);
}, 60_000);

afterAll(async () => {
  await service?.eventsQueue.obliterate({ force: true }).catch(() => {});
  await service?.assessQueue.obliterate({ force: true }).catch(() => {});
  const keys = await service?.redis.keys(`${cfg.QUEUE_PREFIX}:*`).catch(() => [] as string[]);
  if (keys?.length) await service.redis.del(...keys).catch(() => {});
  await service?.close();
  await sandbox?.close();
  await redis?.stop();
});

/** A raw HTTP request: the path goes on the wire exactly as given (fetch would resolve `..`). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; type: string; text: string }> {
  const url = new URL(service.url as string);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers: { ...headers, connection: 'close' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function isOperationOutcome(type: string, text: string): boolean {
  if (!type.startsWith('application/fhir+json')) return false;
  try {
    const body = JSON.parse(text) as { resourceType?: string; issue?: { code?: string; diagnostics?: string }[] };
    return body.resourceType === 'OperationOutcome' && !!body.issue?.length && !!body.issue[0].code;
  } catch {
    return false;
  }
}

const auth = { authorization: `Bearer ${API_KEY}` };
const json = { 'content-type': 'application/fhir+json' };

describe('ids that would change the path of an EHR request', () => {
  const BAD_IDS = ['..', '%2e%2e', '%2E%2e', '.', '%2e', 'a%2Fb', 'a%2fb', '..%2f..', 'x'.repeat(65), 'x'.repeat(200)];

  it('are refused with 400 and an OperationOutcome on every route that takes an id, and never reach the EHR', async () => {
    const before = ehrPaths.length;
    const answers: { route: string; status: number; outcome: boolean }[] = [];
    const check = async (route: string, method: string, path: string, headers = {}, body?: string) => {
      const res = await raw(method, path, headers, body);
      answers.push({ route, status: res.status, outcome: isOperationOutcome(res.type, res.text) });
    };
    for (const id of BAD_IDS) {
      await check('Patient/$assess', 'POST', `/fhir/Patient/${id}/$assess`, auth);
      await check('Group/$assess', 'POST', `/fhir/Group/${id}/$assess`, auth);
      await check('$assess-status GET', 'GET', `/fhir/$assess-status/${id}`, auth);
      await check('$assess-status DELETE', 'DELETE', `/fhir/$assess-status/${id}`, auth);
      await check('$validate-model-status GET', 'GET', `/fhir/$validate-model-status/${id}`, auth);
      await check(
        '$validate-model population',
        'POST',
        `/fhir/$validate-model?model=pce-2013&asOf=2011-01-01&population=${encodeURIComponent(`Group/${decodeURIComponent(id)}`)}`,
        auth,
      );
      await check('notify PUT', 'PUT', `/notify/Observation/${id}`, { 'x-notify-secret': NOTIFY_SECRET });
      await check('notify DELETE', 'DELETE', `/notify/Observation/${id}`, { 'x-notify-secret': NOTIFY_SECRET });
      const decoded = decodeURIComponent(id);
      await check(
        'system $assess patient',
        'POST',
        `/fhir/$assess?patient=${encodeURIComponent(`Patient/${decoded}`)}`,
        auth,
      );
      const parameters = {
        resourceType: 'Parameters',
        parameter: [{ name: 'patient', valueString: `Patient/${decoded}` }],
      };
      await check('system $assess body', 'POST', '/fhir/$assess', { ...auth, ...json }, JSON.stringify(parameters));
      const hook = {
        hook: 'patient-view',
        hookInstance: '3f9a2f2e-5d1c-4d41-8f3e-111111111111',
        context: { userId: 'Practitioner/1', patientId: decoded },
      };
      await check(
        'CDS Hooks patientId',
        'POST',
        '/cds-services/fhir-assess-risk',
        { ...auth, 'content-type': 'application/json' },
        JSON.stringify(hook),
      );
    }
    const refused = answers.filter((a) => a.status === 400 && a.outcome);
    expect(answers.filter((a) => !(a.status === 400 && a.outcome))).toEqual([]);
    expect(refused).toHaveLength(BAD_IDS.length * 11);
    // Let any (wrongly) queued job run before looking at what the EHR saw.
    await new Promise((r) => setTimeout(r, 500));
    const reached = ehrPaths.slice(before).filter((p) => /\/\.\.?(?:\/|$)|%2e|x{65}/i.test(p) || /\/a\/b/.test(p));
    expect(reached).toEqual([]);
  });

  it('cannot climb out of the FHIR base through the EHR client either (encode, then check)', async () => {
    const client = new FhirClient({ baseUrl: sandbox.baseUrl });
    const before = ehrPaths.length;
    await expect(client.read('Patient', '..')).rejects.toBeInstanceOf(UnsafePathError);
    await expect(client.get('Patient/%2E%2e/$everything')).rejects.toBeInstanceOf(UnsafePathError);
    await expect(client.get('Patient/./x')).rejects.toBeInstanceOf(UnsafePathError);
    // A slash inside an id is encoded: it stays one path segment.
    await expect(client.read('Patient', 'a/b')).rejects.toMatchObject({ status: 404 });
    expect(ehrPaths.slice(before)).toEqual(['/fhir/R4/Patient/a%2Fb']);
  });
});

describe('every route, fuzzed', () => {
  const ROUTES = [
    '/fhir/Patient/{id}/$assess',
    '/fhir/Group/{id}/$assess',
    '/fhir/$assess',
    '/fhir/$assess-status/{id}',
    '/fhir/$validate-model',
    '/fhir/$validate-model-status/{id}',
    '/fhir/metadata',
    '/notify',
    '/notify/{type}/{id}',
    '/cds-services',
    '/cds-services/{id}',
    '/cds-services/{id}/feedback',
    '/metrics',
    '/admin/queues{rest}',
    '/healthz',
    '/readyz',
    '/{rest}',
  ];
  const id = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/),
    fc.constantFrom('..', '.', '%2e%2e', '%2F', 'a%2Fb', '%00', '%', '%zz', '\u00e9', 'x'.repeat(101), 'x'.repeat(600)),
    fc.string({ maxLength: 80 }).map(encodeURIComponent),
    fc.string({ unit: 'binary', maxLength: 40 }).map(encodeURIComponent),
  );
  const type = fc.oneof(
    fc.constantFrom('Patient', 'Observation', 'patient', 'Foo', '..'),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
  );
  const rest = fc.oneof(
    fc.constant(''),
    fc.constantFrom('/', '/api/queues', '/api/queues/assess/retry', '/static/x.js', '/../../fhir/metadata'),
    fc.string({ maxLength: 60 }).map((s) => `/${encodeURIComponent(s)}`),
  );
  const query = fc.oneof(
    fc.constant(''),
    fc.constantFrom('?patient=Patient/..', '?patient=', '?model=nope', '?source=x&source=y', '?_format=xml', '?%zz=1'),
    fc
      .array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 30 })), { maxLength: 4 })
      .map((kv) => (kv.length ? `?${new URLSearchParams(kv)}` : '')),
  );
  const headers = fc.record({
    auth: fc.constantFrom(
      {},
      auth,
      { authorization: 'Bearer nope' },
      { authorization: 'Bearer a.b.c' },
      { authorization: `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}` },
      { authorization: 'Basic !!!' },
      { 'x-api-key': API_KEY },
      { 'x-notify-secret': NOTIFY_SECRET },
      { 'x-signature': 'ABCDEF' },
    ),
    type: fc.constantFrom(
      undefined,
      'application/fhir+json',
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '',
    ),
  });
  const body = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(
      '',
      '{',
      'null',
      '[]',
      '"x"',
      '{"resourceType":"Parameters","parameter":"x"}',
      '{"resourceType":"Bundle","type":"history"}',
    ),
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 200 }),
    fc
      .record({
        name: fc.constantFrom('patient', 'model', 'source', 'mode', 'x'),
        valueString: fc.string({ maxLength: 70 }),
      })
      .map((p) => JSON.stringify({ resourceType: 'Parameters', parameter: [p] })),
    fc
      .record({ hook: fc.constantFrom('patient-view', 'order-select', ''), hookInstance: fc.uuid(), patientId: id })
      .map((h) =>
        JSON.stringify({
          hook: h.hook,
          hookInstance: h.hookInstance,
          context: { userId: 'Practitioner/1', patientId: h.patientId },
        }),
      ),
  );
  const anyRequest = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    route: fc.constantFrom(...ROUTES),
    id,
    type,
    rest,
    query,
    headers,
    body,
  });
  /** Well-formed calls too, so that some get past validation into the queue (202 with a status URL). */
  const wellFormed = fc.record({
    method: fc.constant('POST'),
    route: fc.constant('/fhir/Patient/{id}/$assess'),
    // Patients that exist (read when the case runs: the sandbox is loaded in beforeAll), and some that do not.
    id: fc.oneof(
      fc.nat().map((i) => patientIds[i % patientIds.length]),
      fc.stringMatching(/^[A-Za-z0-9-]{1,64}$/),
    ),
    type: fc.constant('Patient'),
    rest: fc.constant(''),
    query: fc.constantFrom('', '?_format=json'),
    headers: fc.record({
      auth: fc.constantFrom(auth, { ...auth, prefer: 'respond-async' }),
      type: fc.constant(undefined),
    }),
    body: fc.constant(undefined),
  });
  const request = fc.oneof({ arbitrary: anyRequest, weight: 19 }, { arbitrary: wellFormed, weight: 1 });

  it(`answers ${FUZZ_RUNS} mutated requests with no 5xx and only OperationOutcome 4xx`, async () => {
    const app = service.app;
    if (!app) throw new Error('the service has no HTTP app');
    const problems: string[] = [];
    let runs = 0;
    let failures = 0;
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const url =
          r.route
            .replace('{id}', r.id)
            .replace('{type}', r.type)
            .replace('{rest}', r.rest)
            .replace('/{rest}', r.rest || '/x') + r.query;
        const hdrs: Record<string, string> = { ...r.headers.auth };
        if (r.headers.type !== undefined && r.body !== undefined) hdrs['content-type'] = r.headers.type;
        const res = await app.inject({
          method: r.method as 'GET',
          url,
          headers: hdrs,
          payload: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body,
        });
        // The one documented exception (docs/api.md): Bull Board's own JSON API behind the dashboard's
        // authentication answers in the shape its UI reads; refusals before it are OperationOutcomes.
        const bullBoardApi = url.startsWith('/admin/queues/api/') && res.statusCode !== 401 && res.statusCode !== 403;
        const bad =
          res.statusCode >= 500 ||
          (res.statusCode >= 400 &&
            r.method !== 'HEAD' &&
            !bullBoardApi &&
            !isOperationOutcome(String(res.headers['content-type'] ?? ''), res.body));
        runs++;
        statuses.add(res.statusCode);
        if (bad) failures++;
        if (bad && problems.length < 20)
          problems.push(`${r.method} ${url} -> ${res.statusCode} ${res.body.slice(0, 160)}`);
        // Always true: every case runs (no shrinking), the bad ones are collected and asserted below.
        return true;
      }),
      { numRuns: FUZZ_RUNS, seed: 160_016 },
    );
    expect({ runs, failures, problems }).toEqual({ runs: FUZZ_RUNS, failures: 0, problems: [] });
    // The requests reached past authentication and the parsers into the handlers, not only the door.
    for (const status of [200, 202, 400, 401, 404, 415]) expect(statuses).toContain(status);
  }, 300_000);
});
