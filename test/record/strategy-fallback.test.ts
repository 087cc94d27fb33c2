import type { Bundle, BundleEntry, OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FhirClient, FhirHttpError } from '../../src/fhir/fhir-client.js';
import type { PatientRecord as Rec } from '../../src/models/model.js';
import { ASSEMBLY_SYSTEM, RecordAssembler, type Strategy } from '../../src/record/assemble-record.js';
import { refusalOf, UnusableAnswerError } from '../../src/record/strategy-refusal.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createLogger } from '../../src/util/logger.js';
import { type FaultProxy, type FaultRule, medplumEverythingRefusal, startFaultProxy } from '../fhir/fault-proxy.js';
import { capture } from '../helpers/capture.js';
import { REQUIRES, seedRecords } from './record-fixture.js';

/**
 * Forced and automatic record strategies on EHRs that refuse one (Medplum's 400 to `$everything`
 * with `_type`, 501/405 batches, batch replies with OperationOutcome-only entries), reproduced by the
 * fault proxy in front of the sandbox EHR; and the errors that must not be taken for a refusal.
 */
let sb: Sandbox;
let proxy: FaultProxy;
let expected: string[];
const keys = (r: Rec) => (r.bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort();
const strategyOf = (r: Rec) => r.bundle.meta?.tag?.find((t) => t.system === ASSEMBLY_SYSTEM)?.code;
const client = () => new FhirClient({ baseUrl: proxy.baseUrl, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
const dataRequests = () => proxy.requests.filter((r) => !r.url.endsWith('/metadata'));
const isEverything = (url: string) => new URL(url, proxy.origin).pathname.endsWith('/$everything');
const isBatch = (r: { method: string; body: string }) => r.method === 'POST' && r.body.includes('"batch"');

/** A logger whose JSON lines are kept (warn and above). */
function warnLog() {
  const out = capture();
  const logger = createLogger('warn', 'test', out);
  const lines = () =>
    out
      .text()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

function assembler(strategy: 'auto' | Strategy, source = 'medplum-like'): RecordAssembler {
  return new RecordAssembler(client(), { strategy, source, pageSize: 100, maxResources: 1000 });
}

/** Rewrites the batch-response of every batch POST with `edit`. */
function editBatchResponse(edit: (entries: BundleEntry[]) => BundleEntry[]): FaultRule {
  return (req) =>
    isBatch(req)
      ? {
          kind: 'rewrite',
          fn: (body) => {
            const bundle = JSON.parse(body) as Bundle;
            bundle.entry = edit(bundle.entry ?? []);
            return JSON.stringify(bundle);
          },
        }
      : undefined;
}

const outcome = (code: string, text: string): OperationOutcome => ({
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: code as 'invalid', details: { text } }],
});

beforeAll(async () => {
  sb = await startSandbox({ logger: false });
  ({ expected } = await seedRecords(sb.repo));
  proxy = await startFaultProxy(sb.baseUrl);
});

afterEach(() => {
  proxy.rule = () => undefined;
  proxy.requests.length = 0;
});

afterAll(async () => {
  await proxy?.close();
  await sb?.close();
});

describe('forced strategies fall back when the EHR refuses them', () => {
  it('When everything is forced and the EHR answers like Medplum (400 types.push), Then batch reads the record, one warn line names source, strategy, answer and setting, and later reads go straight to batch', async () => {
    proxy.rule = medplumEverythingRefusal;
    const log = warnLog();
    const a = assembler('everything');
    const first = await a.assemble('p1', { requires: REQUIRES, logger: log.logger });
    expect(strategyOf(first)).toBe('batch');
    expect(keys(first)).toEqual(expected);
    expect(dataRequests().filter((r) => isEverything(r.url))).toHaveLength(1);

    const [line, ...more] = log.lines();
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 40,
      source: 'medplum-like',
      strategy: 'everything',
      ehrAnswer: 'HTTP 400: types.push is not a function',
      using: 'batch',
      setting: 'recordStrategy',
    });
    expect(line.msg).toMatch(/source 'medplum-like' refused record strategy 'everything' \(forced by recordStrategy\)/);
    expect(line.msg).toMatch(/set recordStrategy "batch" for this source in SOURCES_FILE \(or RECORD_STRATEGY=batch\)/);

    // Later assessments, three at once: straight to batch, no $everything, no second warn line.
    proxy.requests.length = 0;
    const later = await Promise.all(
      ['p1', 'p1', 'p2'].map((p) => a.assemble(p, { requires: REQUIRES, logger: log.logger })),
    );
    expect(later.map(strategyOf)).toEqual(['batch', 'batch', 'batch']);
    expect(keys(later[0])).toEqual(expected);
    expect(dataRequests().some((r) => isEverything(r.url))).toBe(false);
    expect(dataRequests().filter(isBatch)).toHaveLength(3); // one batch per assessment, nothing else (small record)
    expect(log.lines()).toHaveLength(1);
    expect([...a.refusedStrategies.keys()]).toEqual(['everything']);
  });

  it('When several assessments hit the refusal at the same moment, Then the warn line is still written once for the source', async () => {
    proxy.rule = medplumEverythingRefusal;
    const log = warnLog();
    const a = assembler('everything');
    const records = await Promise.all(
      [1, 2, 3, 4].map(() => a.assemble('p1', { requires: REQUIRES, logger: log.logger })),
    );
    expect(records.every((r) => strategyOf(r) === 'batch' && r.hash === records[0].hash)).toBe(true);
    expect(log.lines()).toHaveLength(1);
  });

  it('When everything is forced and the EHR refuses both $everything (404) and batch (501), Then search reads the record and each refusal is logged once', async () => {
    proxy.rule = (req) => {
      if (isEverything(req.url))
        return { kind: 'status', status: 404, body: outcome('not-found', 'Unknown operation') };
      if (isBatch(req)) return { kind: 'status', status: 501, body: outcome('not-supported', 'batch not supported') };
      return undefined;
    };
    const log = warnLog();
    const a = assembler('everything', 'strict-ehr');
    const record = await a.assemble('p1', { requires: REQUIRES, logger: log.logger });
    expect(strategyOf(record)).toBe('search');
    expect(keys(record)).toEqual(expected);
    expect(log.lines().map((l) => [l.strategy, l.ehrAnswer, l.using])).toEqual([
      ['everything', 'HTTP 404: Unknown operation', 'search'],
      ['batch', 'HTTP 501: batch not supported', 'search'],
    ]);
    proxy.requests.length = 0;
    expect(strategyOf(await a.assemble('p1', { requires: REQUIRES, logger: log.logger }))).toBe('search');
    expect(dataRequests().every((r) => r.method === 'GET' && !isEverything(r.url))).toBe(true);
    expect(log.lines()).toHaveLength(2);
  });

  it('When batch is forced and the EHR answers it 405, Then search reads the record; with auto on the same EHR the warn line does not claim the strategy was forced', async () => {
    proxy.rule = (req) => (isBatch(req) ? { kind: 'status', status: 405 } : undefined);
    const log = warnLog();
    expect(strategyOf(await assembler('batch').assemble('p1', { requires: REQUIRES, logger: log.logger }))).toBe(
      'search',
    );
    expect(log.lines()[0]).toMatchObject({ strategy: 'batch', using: 'search' });
    expect(String(log.lines()[0].msg)).toContain('(forced by recordStrategy)');
    // auto on an EHR whose CapabilityStatement advertises $everything: everything works, nothing refused.
    const auto = warnLog();
    expect(strategyOf(await assembler('auto').assemble('p1', { requires: REQUIRES, logger: auto.logger }))).toBe(
      'everything',
    );
    expect(auto.lines()).toEqual([]);
  });

  it('When the batch reply has fewer entries than requests, Then it counts as a refusal of batch and search reads the record', async () => {
    proxy.rule = editBatchResponse((entries) => entries.slice(0, 1));
    const log = warnLog();
    const record = await assembler('batch').assemble('p1', { requires: REQUIRES, logger: log.logger });
    expect(strategyOf(record)).toBe('search');
    expect(keys(record)).toEqual(expected);
    expect(log.lines()[0].ehrAnswer).toMatch(/did not answer the batch with one batch-response entry per request/);
  });
});

describe('real errors are not taken for a refusal', () => {
  for (const [status, code] of [
    [401, 'login'],
    [403, 'forbidden'],
    [500, 'exception'],
  ] as const) {
    it(`When $everything answers ${status}, Then that error surfaces and no other strategy is tried`, async () => {
      proxy.rule = (req) =>
        isEverything(req.url) ? { kind: 'status', status, body: outcome(code, `refused with ${status}`) } : undefined;
      const a = assembler('everything');
      const err = await a.assemble('p1', { requires: REQUIRES }).catch((e) => e);
      expect(err).toBeInstanceOf(FhirHttpError);
      expect(err.status).toBe(status);
      expect(dataRequests().some(isBatch)).toBe(false);
      expect(a.refusedStrategies.size).toBe(0);
    });
  }

  it('When the patient does not exist (404 to $everything, then to the batch Patient entry), Then the 404 surfaces, search is not tried and nothing is remembered', async () => {
    const log = warnLog();
    const a = assembler('everything');
    const err = await a.assemble('nobody', { requires: REQUIRES, logger: log.logger }).catch((e) => e);
    expect(err).toBeInstanceOf(FhirHttpError);
    expect(err.status).toBe(404);
    expect(err.url).toBe('Patient/nobody');
    expect(dataRequests().map((r) => (isBatch(r) ? 'batch' : isEverything(r.url) ? 'everything' : r.url))).toEqual([
      'everything',
      'batch',
    ]);
    expect(a.refusedStrategies.size).toBe(0);
    expect(log.lines()).toEqual([]);
    proxy.requests.length = 0;
    expect(strategyOf(await a.assemble('p1', { requires: REQUIRES }))).toBe('everything'); // still first choice
  });

  it('refusalOf: which answers mean "not supported here" and which are real errors', () => {
    const http = (status: number, code = 'processing', url = '/fhir/R4/Patient/p1/$everything') =>
      new FhirHttpError(status, outcome(code, `answer ${status}`), url);
    expect(refusalOf(http(400, 'invalid'))).toBe('HTTP 400: answer 400');
    for (const s of [404, 405, 406, 415, 422, 501]) expect(refusalOf(http(s))).toBe(`HTTP ${s}: answer ${s}`);
    for (const s of [401, 403, 409, 410, 412, 429, 500, 502, 503]) expect(refusalOf(http(s))).toBeUndefined();
    expect(refusalOf(http(400, 'security'))).toBeUndefined(); // about access, not about the operation
    expect(refusalOf(http(422, 'throttled'))).toBeUndefined();
    expect(refusalOf(http(404, 'not-found', '/fhir/R4/Patient/p1'))).toBeUndefined(); // the patient is absent
    expect(refusalOf(http(404, 'not-found', 'Patient/p1'))).toBeUndefined(); // ... as the batch entry said
    expect(refusalOf(new UnusableAnswerError('odd reply'))).toBe('odd reply');
    expect(refusalOf(new Error('socket hang up'))).toBeUndefined();
  });
});

describe('batch replies with OperationOutcome-only entries', () => {
  it('When entries carry only an OperationOutcome (500 with outcome, 200 with an OperationOutcome, 503 for the Patient), Then those are read again on their own and the record is complete', async () => {
    proxy.rule = editBatchResponse((entries) =>
      // Entries follow the request: Patient, then Observation, Condition, MedicationRequest searches.
      entries.map((e, i) => {
        if (i === 0) return { response: { status: '503 Service Unavailable', outcome: outcome('transient', 'busy') } };
        if (i === 1) return { response: { status: '500', outcome: outcome('exception', 'boom') } };
        if (i === 2) return { resource: outcome('informational', 'no bundle'), response: { status: '200' } };
        return e;
      }),
    );
    const record = await assembler('batch').assemble('p1', { requires: REQUIRES });
    expect(strategyOf(record)).toBe('batch');
    expect(keys(record)).toEqual(expected);
    const reads = dataRequests()
      .filter((r) => r.method === 'GET')
      .map((r) => new URL(r.url, proxy.origin).pathname)
      .sort();
    expect(reads).toEqual(['/fhir/R4/Condition', '/fhir/R4/Observation', '/fhir/R4/Patient/p1']);
  });

  it('When a batch entry fails with a real error on its own too (403), Then that error surfaces', async () => {
    proxy.rule = (req) => {
      if (req.method === 'GET' && req.url.startsWith('/fhir/R4/MedicationRequest'))
        return { kind: 'status', status: 403, body: outcome('forbidden', 'scope lacks MedicationRequest.read') };
      return editBatchResponse((entries) =>
        entries.map((e, i) =>
          i === 3 // the MedicationRequest search
            ? { response: { status: '403', outcome: outcome('forbidden', 'scope lacks MedicationRequest.read') } }
            : e,
        ),
      )(req, 0);
    };
    const err = await assembler('batch')
      .assemble('p1', { requires: REQUIRES })
      .catch((e) => e);
    expect(err).toBeInstanceOf(FhirHttpError);
    expect(err.status).toBe(403);
  });
});
