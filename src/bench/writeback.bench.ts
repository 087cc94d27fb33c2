import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { loadFhirDefinitions } from '../fhir/definitions.js';
import { FhirClient } from '../fhir/fhir-client.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import { recordFromBundle } from '../models/record-from-bundle.js';
import { PROJECT_ROOT } from '../paths.js';
import type { EhrQuirks } from '../sandbox/ehr-quirks.js';
import { startSandbox } from '../sandbox/index.js';
import { assessmentKey } from '../writeback/idempotency-key.js';
import { planWriteBack } from '../writeback/plan.js';
import { getProfile, PROFILES_DIR, profileFiles } from '../writeback/profiles/profiles.js';
import { regenerateProfiles } from '../writeback/profiles/regenerate.js';
import type { ReturnPolicy } from '../writeback/return-preference.js';
import { validatePlan } from '../writeback/validate.js';
import { type WriteBackInput, writeBack } from '../writeback/write-back.js';
import type { Bench } from './bench.js';

/** Assessments per EHR flavour in the steady-state phase (bounded again by PHASE_LIMIT_MS). */
const STEADY_RUNS = 20;
/** Validations per resource and variant (bounded again by PHASE_LIMIT_MS). */
const VALIDATIONS = 300;
/** Upper bound on any one measured phase: 30 s. */
const PHASE_LIMIT_MS = 30_000;
const FIXTURE = `${PROJECT_ROOT}/test/fixtures/goff-2013-white-male.bundle.json`;

interface Wire {
  requests: number;
  sent: number;
  received: number;
  /** Wall time, ms. */
  ms: number;
}

/** A fetch that counts round trips and body bytes (request bodies as sent, response bodies as received). */
function countingFetch(wire: Wire): typeof fetch {
  return async (input, init) => {
    wire.requests++;
    if (typeof init?.body === 'string') wire.sent += Buffer.byteLength(init.body);
    const res = await fetch(input, init);
    wire.received += (await res.clone().arrayBuffer()).byteLength;
    return res;
  };
}

/** How the sandbox answers `Prefer: return=minimal` (see EhrQuirks.minimalReply), and whether it takes transactions. */
interface Flavour {
  name: string;
  quirks: EhrQuirks;
}

const FLAVOURS: Flavour[] = [
  { name: 'ignores minimal (sandbox default)', quirks: {} },
  { name: 'empty body (Medplum)', quirks: { minimalReply: 'empty' } },
  { name: 'no resources (HAPI)', quirks: { minimalReply: 'no-resources' } },
];
const POLICIES: ReturnPolicy[] = ['minimal', 'representation', 'adaptive'];

type Cost = Awaited<ReturnType<typeof wireCost>>;

/**
 * One EHR flavour and Prefer policy: the per-assessment wire cost when cold (first), steady (a new
 * assessment of the same patient each time: a changed record, so each also supersedes the previous
 * one), and for a duplicate delivery (replay).
 */
async function wireCost(redisUrl: string, quirks: EhrQuirks, policy: ReturnPolicy) {
  const sandbox = await startSandbox({ logger: false, quirks });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const prefix = `bench-wb-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await sandbox.loadFile(FIXTURE);
    const patientId = [...sandbox.repo.resourcesOf('Patient')][0].id;
    const input = await assessmentInput(new FhirClient({ baseUrl: sandbox.baseUrl }), patientId);
    const wire: Wire = { requests: 0, sent: 0, received: 0, ms: 0 };
    const client = new FhirClient({ baseUrl: sandbox.baseUrl, fetch: countingFetch(wire) });
    const deps = { redis, keyPrefix: prefix, source: 'bench', returnPolicy: policy };
    const measure = async (runs: number, key: (i: number) => string) => {
      const before = { ...wire };
      const deadline = Date.now() + PHASE_LIMIT_MS;
      const t0 = performance.now();
      let n = 0;
      let via = '';
      for (; n < runs && Date.now() < deadline; n++)
        via = (await writeBack(client, { ...input, key: key(n) }, deps)).via;
      wire.ms += performance.now() - t0;
      return { via, per: perRun(before, wire, n) };
    };
    const first = await measure(1, () => `${input.key}-first`);
    const steady = await measure(STEADY_RUNS, (i) => `${input.key}-steady-${i}`);
    const replay = await measure(STEADY_RUNS, () => `${input.key}-steady-0`);
    return { first, steady, replay };
  } finally {
    for (const k of await redis.keys(`${prefix}:*`)) await redis.del(k);
    redis.disconnect();
    await sandbox.close();
  }
}

function perRun(before: Wire, after: Wire, n: number): Wire {
  return {
    requests: (after.requests - before.requests) / n,
    sent: (after.sent - before.sent) / n,
    received: (after.received - before.received) / n,
    ms: (after.ms - before.ms) / n,
  };
}

async function assessmentInput(client: FhirClient, patientId: string): Promise<WriteBackInput> {
  const resources = await client.searchAll<Resource>(`Patient/${patientId}/$everything`);
  const record = recordFromBundle({
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((r) => ({ resource: r })),
  });
  const model = createEmbeddedModel();
  const asOf = new Date('2021-04-01T00:00:00Z');
  const output = await model.assess(record, { asOf });
  const key = assessmentKey(patientId, model.id, model.version, record.hash);
  return { patientId, key, output, modelTitle: model.title, mode: 'preliminary', asOf, serviceVersion: 'bench' };
}

/** µs per `validateResource` call, bounded by count and time. */
function usPerValidation(resource: Resource, profile: boolean): number {
  const options = profile ? { profile: getProfile(resource.meta!.profile![0]) } : undefined;
  for (let i = 0; i < 20; i++) validateResource(resource, options); // warm-up
  const deadline = performance.now() + PHASE_LIMIT_MS / 10;
  const t0 = performance.now();
  let n = 0;
  for (; n < VALIDATIONS && performance.now() < deadline; n++) validateResource(resource, options);
  return ((performance.now() - t0) * 1000) / n;
}

/** µs per full pre-send validation of one assessment's plan (fresh timestamps each time, as in production). */
function usPerPlan(input: WriteBackInput): number {
  const deadline = performance.now() + PHASE_LIMIT_MS / 10;
  let total = 0;
  let n = 0;
  for (; n < VALIDATIONS / 10 && performance.now() < deadline; n++) {
    const entries = planWriteBack({ ...input, mode: 'preliminary', now: new Date(Date.now() + n) });
    const t0 = performance.now();
    validatePlan(entries, 'preliminary');
    total += performance.now() - t0;
  }
  return (total * 1000) / n;
}

function validationCost(input: WriteBackInput, log: (l: string) => void): Record<string, number> {
  const entries = planWriteBack({ ...input, mode: 'preliminary', now: new Date() });
  const profiled = entries.map((e) => e.resource).filter((r) => r.meta?.profile?.length);
  log('\nValidation per resource (µs per validateResource call; Medplum re-parses the profile on every call)');
  log('| resource | vs our profile | vs base R4 | profile / base |');
  log('|---|---:|---:|---:|');
  let profileSum = 0;
  let baseSum = 0;
  for (const r of profiled) {
    const p = usPerValidation(r, true);
    const b = usPerValidation(r, false);
    profileSum += p;
    baseSum += b;
    log(`| ${r.resourceType} | ${p.toFixed(0)} | ${b.toFixed(0)} | ${(p / b).toFixed(1)}× |`);
  }
  const perPlanUs = usPerPlan(input);
  log(
    `validatePlan per assessment (5 resources; identical Devices memoised after the first): ${perPlanUs.toFixed(0)} µs`,
  );
  return {
    validatePlanUsPerAssessment: Math.round(perPlanUs),
    validationProfileUsPerAssessment: Math.round(profileSum),
    validationBaseUsPerAssessment: Math.round(baseSum),
    validationProfileOverBase: Number((profileSum / baseSum).toFixed(1)),
  };
}

function snapshotCost(log: (l: string) => void): Record<string, number> {
  let t0 = performance.now();
  const files = regenerateProfiles(); // reads the R4 base bundle (~4 MB) and our 4 differentials
  const generateMs = performance.now() - t0;
  t0 = performance.now();
  for (const f of profileFiles()) JSON.parse(readFileSync(join(PROFILES_DIR, f), 'utf8')); // what start-up does
  const loadMs = performance.now() - t0;
  log(
    `\nSnapshots: regenerating ${files.length} profiles takes ${generateMs.toFixed(0)} ms (base bundle read included);`,
  );
  log(`loading the committed ones ${loadMs.toFixed(1)} ms. Stale: ${files.filter((f) => f.changed).length}.`);
  return { snapshotGenerateMs: Math.round(generateMs), snapshotLoadMs: Number(loadMs.toFixed(1)) };
}

function wireTable(rows: [string, string, Cost][], log: (l: string) => void): void {
  log('\nEHR wire cost per assessment (1 RiskAssessment + ClinicalImpression + Provenance; loopback sandbox)');
  log(
    '| EHR answers return=minimal with | Prefer | sent as | phase | round trips | bytes sent | bytes received | ms |',
  );
  log('|---|---|---|---|---:|---:|---:|---:|');
  for (const [name, policy, r] of rows) {
    for (const [phase, m] of Object.entries(r)) {
      const w = m.per;
      log(
        `| ${name} | ${policy} | ${m.via} | ${phase} | ${w.requests.toFixed(1)} | ${w.sent.toFixed(0)} | ${w.received.toFixed(0)} | ${w.ms.toFixed(1)} |`,
      );
    }
  }
  log('first = cold (CapabilityStatement read and Device conditional creates included); steady = a new assessment');
  log('of the same patient each time (the record changed: it also supersedes the previous one); replay = the same');
  log('assessment delivered again (conditional creates find everything, nothing is created or superseded).');
}

export const bench: Bench = {
  name: 'writeback',
  title:
    'write-back: round trips, bytes and ms per assessment by EHR reply shape and Prefer policy (transaction vs fallback), validation µs (profile vs base)',
  async run(log) {
    loadFhirDefinitions();
    const redis = await redisForDemo();
    try {
      const rows: [string, string, Cost][] = [];
      const cost: Record<string, Cost> = {};
      for (const f of FLAVOURS) {
        for (const policy of POLICIES) {
          const c = await wireCost(redis.url, f.quirks, policy);
          rows.push([f.name, policy, c]);
          cost[`${f.quirks.minimalReply ?? 'default'}:${policy}`] = c;
        }
      }
      const seq = await wireCost(redis.url, { rejectTransactions: true, minimalReply: 'empty' }, 'adaptive');
      rows.push(['empty body, no transactions', 'adaptive', seq]);
      wireTable(rows, log);
      const tx = cost['default:adaptive'];
      const steady = (k: string) => cost[k].steady.per;
      const ratios: Record<string, number> = {};
      for (const shape of ['default', 'empty', 'no-resources']) {
        const min = steady(`${shape}:minimal`);
        const rep = steady(`${shape}:representation`);
        const ada = steady(`${shape}:adaptive`);
        ratios[`${shape}RoundTripsMinimal`] = min.requests;
        ratios[`${shape}RoundTripsRepresentation`] = rep.requests;
        ratios[`${shape}RoundTripsAdaptive`] = ada.requests;
        ratios[`${shape}ReceivedMinimalOverRepresentation`] = Number((min.received / rep.received).toFixed(2));
        ratios[`${shape}ReceivedAdaptiveOverRepresentation`] = Number((ada.received / rep.received).toFixed(2));
        ratios[`${shape}MsMinimalOverRepresentation`] = Number((min.ms / rep.ms).toFixed(2));
      }
      const input = await (async () => {
        const sandbox = await startSandbox({ logger: false });
        await sandbox.loadFile(FIXTURE);
        const id = [...sandbox.repo.resourcesOf('Patient')][0].id;
        const out = await assessmentInput(new FhirClient({ baseUrl: sandbox.baseUrl }), id);
        await sandbox.close();
        return out;
      })();
      return {
        ...ratios,
        roundTripsTransaction: tx.steady.per.requests,
        roundTripsFallback: seq.steady.per.requests,
        roundTripsFallbackOverTransaction: Number((seq.steady.per.requests / tx.steady.per.requests).toFixed(2)),
        bytesTransaction: Math.round(tx.steady.per.sent + tx.steady.per.received),
        bytesFallback: Math.round(seq.steady.per.sent + seq.steady.per.received),
        bytesFallbackOverTransaction: Number(
          ((seq.steady.per.sent + seq.steady.per.received) / (tx.steady.per.sent + tx.steady.per.received)).toFixed(2),
        ),
        ...validationCost(input, log),
        ...snapshotCost(log),
      };
    } finally {
      await redis.stop();
    }
  },
};
