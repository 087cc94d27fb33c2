import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PatientRecord } from '../../src/models/model.js';
import { createRemoteModel, type RemoteModelConfig } from '../../src/models/remote/chat-completions-model.js';
import { isPermanentModelError, RemoteModelError } from '../../src/models/remote/errors.js';
import { RemoteModelSpecSchema } from '../../src/models/remote/remote-spec.js';
import { viewFor } from '../../src/record/model-view.js';
import { AS_OF, bpPanel, patient, quantity, record } from './builders.js';
import { completion, type FakeChatServer, hang, json, startFakeChatServer } from './fake-chat-server.js';

let server: FakeChatServer;
beforeAll(async () => {
  server = await startFakeChatServer();
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  server.requests.length = 0;
});

/** A de-identified record (marked as src/record/deidentify.ts marks them) with two citable Observations. */
function deidRecord(): PatientRecord {
  const rec = record(patient(60, 'female'), bpPanel(150), quantity('2093-3', 220, 'mg/dL'));
  return { ...rec, deidentified: true };
}
const refs = (rec: PatientRecord) => rec.bundle.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);

/** A valid reply citing the record's BP panel. */
function goodReply(rec: PatientRecord) {
  return {
    predictions: [
      {
        id: 'cv-event-10y',
        outcome: 'Cardiovascular event',
        probability: 0.12,
        qualitativeRisk: 'moderate',
        horizonYears: 10,
        category: 'intermediate',
        rationale: 'Elevated systolic pressure and cholesterol.',
        inputsUsed: [{ name: 'Systolic BP', value: '150', unit: 'mm[Hg]', source: refs(rec)[1] }],
      },
    ],
    missing: [{ name: 'HDL cholesterol', reason: 'missing', detail: null }],
    summary: 'Moderate 10-year cardiovascular risk.',
  };
}

/** Records the waits the adapter asks for instead of sleeping (the server still sees real requests). */
/** Overrides are the spec's JSON input (zod fills the defaults), e.g. a partial `budget`. */
function spec(overrides: Record<string, unknown> = {}): RemoteModelConfig {
  return {
    ...RemoteModelSpecSchema.parse({
      type: 'remote',
      id: 'hosted-risk',
      version: 'gpt-test-2024',
      provider: 'azure-openai',
      endpoint: server.url,
      deployment: 'risk-dep',
      apiVersion: '2024-10-21',
      auth: { type: 'api-key', keyEnv: 'TEST_KEY' },
      timeoutMs: 2000,
      retryBaseMs: 10,
      ...overrides,
    }),
    secret: 'test-secret-key',
  };
}

async function failure(p: Promise<unknown>): Promise<RemoteModelError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RemoteModelError);
  return err as RemoteModelError;
}

describe('hosted model over the chat-completions protocol', () => {
  it('When the reply is valid, Then it sends the Azure OpenAI request and maps the reply to a ModelOutput', async () => {
    const rec = deidRecord();
    server.script(completion(goodReply(rec)));
    const model = createRemoteModel(spec());
    const out = await model.assess(rec, { asOf: AS_OF });
    const [req] = server.requests;
    expect(req.url).toBe('/openai/deployments/risk-dep/chat/completions?api-version=2024-10-21');
    expect(req.headers['api-key']).toBe('test-secret-key');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body.stream).toBe(false);
    expect(req.body.model).toBeUndefined(); // the deployment is in the URL
    expect(req.body.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'fhir_assess_risk_output', strict: true },
    });
    const messages = req.body.messages as { role: string; content: string }[];
    expect(messages[0].content).toMatch(/fhir-assess risk-v1/);
    expect(JSON.parse(messages[1].content)).toMatchObject({
      promptVersion: 'risk-v1',
      asOf: '2021-04-01',
      record: { resourceType: 'Bundle' },
    });
    expect(out).toMatchObject({
      modelId: 'hosted-risk',
      modelVersion: 'gpt-test-2024+risk-v1',
      summary: 'Moderate 10-year cardiovascular risk.',
    });
    expect(out.predictions[0]).toMatchObject({
      calculator: 'cv-event-10y',
      probability: 0.12,
      qualitativeRisk: 'moderate',
      horizonYears: 10,
    });
    expect(out.basis).toEqual([{ reference: refs(rec)[1] }]);
    expect(out.missing).toEqual([
      { calculator: 'hosted-risk', name: 'HDL cholesterol', reason: 'missing', detail: undefined },
    ]);
    expect(out.usage).toEqual({ promptTokens: 900, completionTokens: 150, totalTokens: 1050 });
    expect(model.mayReceiveIdentifiedData).toBe(false);
  });

  it('When the provider is OpenAI-compatible, Then it uses {endpoint}/chat/completions, a bearer token and `model`', async () => {
    const rec = deidRecord();
    server.script(completion(goodReply(rec)));
    const model = createRemoteModel(
      spec({
        provider: 'openai-compatible',
        endpoint: `${server.url}/v1`,
        apiVersion: undefined,
        auth: { type: 'bearer', tokenEnv: 'X' },
      }),
    );
    await model.assess(rec, { asOf: AS_OF });
    expect(server.requests[0].url).toBe('/v1/chat/completions');
    expect(server.requests[0].headers.authorization).toBe('Bearer test-secret-key');
    expect(server.requests[0].body.model).toBe('risk-dep');
  });

  it('When the record is not marked de-identified, Then it refuses before sending anything', async () => {
    server.script(completion(goodReply(deidRecord())));
    const err = await failure(
      createRemoteModel(spec()).assess({ ...deidRecord(), deidentified: undefined }, { asOf: AS_OF }),
    );
    expect(err).toMatchObject({ kind: 'not-deidentified', permanent: true });
    expect(server.requests).toHaveLength(0);
  });

  it('When given a record de-identified by src/record (viewFor), Then the reply cites its pseudonyms', async () => {
    const real = record(patient(60, 'female', { name: [{ family: 'Doe', given: ['Jane'] }] }), bpPanel(150));
    const model = createRemoteModel(spec());
    const view = viewFor(model, real, AS_OF, 'a-test-secret-of-at-least-32-characters!');
    expect(view.record.deidentified).toBe(true);
    server.script(
      completion({
        ...goodReply(view.record),
        predictions: [
          {
            ...goodReply(view.record).predictions[0],
            inputsUsed: [{ name: 'SBP', value: '150', unit: null, source: refs(view.record)[1] }],
          },
        ],
      }),
    );
    const out = view.relink(await model.assess(view.record, { asOf: view.asOf }));
    expect(JSON.stringify(server.requests[0].body)).not.toContain('Doe');
    expect(out.basis).toEqual([{ reference: refs(real)[1] }]); // re-linked to the real Observation
  });

  it('When the server answers 429 with Retry-After, Then it waits that long and retries', async () => {
    const rec = deidRecord();
    server.script(json(429, { error: { code: '429' } }, { 'retry-after': '1' }), completion(goodReply(rec)));
    const out = await createRemoteModel(spec()).assess(rec, { asOf: AS_OF });
    expect(out.predictions).toHaveLength(1);
    expect(server.requests).toHaveLength(2);
    // Real sleep: the second request arrived at least the 1 s Retry-After later (server clock).
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(990);
  });

  it("When 429s carry Azure's retry-after-ms, Then each wait is that value", async () => {
    const rec = deidRecord();
    const waits: number[] = [];
    server.script(
      json(429, {}, { 'retry-after-ms': '1500' }),
      json(429, {}, { 'retry-after': '3' }),
      completion(goodReply(rec)),
    );
    await createRemoteModel(spec(), { sleep: async (ms) => void waits.push(ms) }).assess(rec, { asOf: AS_OF });
    expect(waits).toEqual([1500, 3000]);
  });

  it('When the server keeps answering 503, Then it gives up after maxRetries with a transient error', async () => {
    const waits: number[] = [];
    server.script(json(503, { error: 'busy' }));
    const err = await failure(
      createRemoteModel(spec({ maxRetries: 2 }), { sleep: async (ms) => void waits.push(ms) }).assess(deidRecord(), {
        asOf: AS_OF,
      }),
    );
    expect(err).toMatchObject({ kind: 'server', status: 503, permanent: false });
    expect(server.requests).toHaveLength(3);
    expect(waits).toEqual([10, 20]); // exponential backoff from retryBaseMs without Retry-After
  });

  it('When Retry-After exceeds maxRetryWaitMs, Then it fails at once (transient) and reports the wait', async () => {
    server.script(json(429, {}, { 'retry-after': '120' }));
    const err = await failure(createRemoteModel(spec()).assess(deidRecord(), { asOf: AS_OF }));
    expect(err).toMatchObject({ kind: 'rate-limited', permanent: false, retryAfterMs: 120_000 });
    expect(server.requests).toHaveLength(1);
  });

  it('When no reply comes within timeoutMs, Then it fails with a transient timeout', async () => {
    server.script(hang);
    const err = await failure(
      createRemoteModel(spec({ timeoutMs: 200, maxRetries: 0 })).assess(deidRecord(), { asOf: AS_OF }),
    );
    expect(err).toMatchObject({ kind: 'timeout', permanent: false });
  });

  it.each([
    ['malformed JSON content', completion('{"predictions": ['), 'malformed'],
    [
      'a body that is not JSON',
      (_r: unknown, res: import('node:http').ServerResponse) => res.end('<html>gateway</html>'),
      'malformed',
    ],
    ['no content', completion(null), 'malformed'],
    ['a schema violation (probability 1.5)', 'probability', 'schema'],
    ['a citation of a resource not in the record', 'citation', 'schema'],
    [
      'a truncated reply (finish_reason length)',
      completion('{"predictions":', { finishReason: 'length' }),
      'truncated',
    ],
    ['a refusal', completion(null, { refusal: 'I cannot help with that.' }), 'refused'],
    ['a content-filtered reply', completion(null, { finishReason: 'content_filter' }), 'refused'],
    [
      'a content-filtered prompt (Azure HTTP 400)',
      json(400, { error: { code: 'content_filter', message: 'filtered' } }),
      'refused',
    ],
    ['HTTP 401', json(401, { error: { message: 'bad key' } }), 'http'],
  ] as const)(
    'When the server sends %s, Then it fails permanently (%s) and returns no output',
    async (_what, handler, kind) => {
      const rec = deidRecord();
      const good = goodReply(rec);
      const h =
        handler === 'probability'
          ? completion({ ...good, predictions: [{ ...good.predictions[0], probability: 1.5 }] })
          : handler === 'citation'
            ? completion({
                ...good,
                predictions: [
                  {
                    ...good.predictions[0],
                    inputsUsed: [{ name: 'x', value: '1', unit: null, source: 'Observation/not-there' }],
                  },
                ],
              })
            : handler;
      server.script(h as Parameters<typeof server.script>[0]);
      const err = await failure(createRemoteModel(spec()).assess(rec, { asOf: AS_OF }));
      expect(err.kind).toBe(kind);
      expect(err.permanent).toBe(true);
      expect(isPermanentModelError(err)).toBe(true);
      expect(server.requests).toHaveLength(1); // permanent: not retried
    },
  );

  it('When the reply uses more tokens than the budget, Then it fails (budget) and discards the reply', async () => {
    const rec = deidRecord();
    server.script(completion(goodReply(rec), { usage: { prompt_tokens: 5000, completion_tokens: 900 } }));
    const err = await failure(
      createRemoteModel(spec({ budget: { maxTotalTokens: 5500 } })).assess(rec, { asOf: AS_OF }),
    );
    expect(err).toMatchObject({ kind: 'budget', permanent: true });
    expect(err.message).toMatch(/5900 > 5500 tokens/);
  });

  it('When the cost cap is exceeded, Then it fails (budget)', async () => {
    const rec = deidRecord();
    server.script(completion(goodReply(rec), { usage: { prompt_tokens: 1000, completion_tokens: 1000 } }));
    const priced = spec({ budget: { inputUsdPerMillion: 5, outputUsdPerMillion: 15, maxCostUsd: 0.01 } });
    const err = await failure(createRemoteModel(priced).assess(rec, { asOf: AS_OF }));
    expect(err.message).toMatch(/cost budget exceeded: \$0\.0200 > \$0\.01/);
  });

  it('When the prompt alone exceeds the budget, Then it sends nothing', async () => {
    const err = await failure(
      createRemoteModel(spec({ budget: { maxTotalTokens: 100 } })).assess(deidRecord(), { asOf: AS_OF }),
    );
    expect(err.kind).toBe('budget');
    expect(server.requests).toHaveLength(0);
  });

  it('When calls keep failing, Then the breaker opens, fails fast, and closes after a successful trial', async () => {
    let now = 1_000_000;
    const rec = deidRecord();
    const model = createRemoteModel(spec({ maxRetries: 0, breaker: { failureThreshold: 2, cooldownMs: 30_000 } }), {
      now: () => now,
    });
    server.script(json(500, {}), json(500, {}), completion(goodReply(rec)));
    for (let i = 0; i < 2; i++) expect((await failure(model.assess(rec, { asOf: AS_OF }))).kind).toBe('server');
    const open = await failure(model.assess(rec, { asOf: AS_OF }));
    expect(open).toMatchObject({ kind: 'breaker-open', permanent: false, retryAfterMs: 30_000 });
    expect(server.requests).toHaveLength(2); // no request while open
    now += 30_000; // cooldown over: one trial call goes through
    expect((await model.assess(rec, { asOf: AS_OF })).predictions).toHaveLength(1);
    expect(server.requests).toHaveLength(3);
  });
});
