import type { ClinicalImpression, Observation, Patient } from '@medplum/fhirtypes';
import { startDemoStack } from '../cli/demo-stack.js';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { percentile } from './bench.js';

/** Upper bound on waiting for one assessment (ms). */
const WAIT_LIMIT_MS = 60_000;
/** How often the written assessments are looked at (ms). */
const POLL_MS = 20;
/** Gap between the changes of one burst (ms). */
const BURST_GAP_MS = 100;

export interface LatencyResult {
  windowMs: number;
  /** Lone changes: change written on the EHR -> its assessment written back, ms. */
  loneMs: number[];
  /** Bursts: the burst's last change -> the assessment of the newest state written back, ms. */
  burstMs: number[];
  /** Assessments written per burst (1 leading + 1 trailing expected in `leading` mode). */
  perBurst: number[];
}

/**
 * Event -> written-back assessment, end to end as deployed: the sandbox EHR notifies the service
 * through the Subscription the service manages (R4 Backport, id-only), the service reads the record,
 * runs the models and writes back. Times come from one clock: when the EHR stored the change and when
 * it stored the new ClinicalImpression (`meta.lastUpdated`, in this process). Lone changes go to
 * patients assessed at least a window earlier; a burst is `burstSize` changes BURST_GAP_MS apart.
 * One stack for every round; each round gets `lone` lone changes and `bursts` bursts.
 */
export async function measureLatency(opts: {
  rounds: number;
  lone: number;
  bursts: number;
  burstSize: number;
  env?: Record<string, string>;
}): Promise<LatencyResult[]> {
  const redis = await redisForDemo();
  const stack = await startDemoStack({
    behave: 'generic',
    redisUrl: redis.url,
    logLevel: 'silent',
    env: { COALESCE_WINDOW_MS: '3000', COALESCE_MODE: 'leading', EHR_RATE_LIMIT: '0', ...opts.env },
  });
  const windowMs = stack.cfg.COALESCE_WINDOW_MS;
  try {
    const patients = (await stack.ehr.searchAll<Patient>('Patient', { _count: '200' })).map((p) => p.id as string);
    await idle(stack);
    const results: LatencyResult[] = [];
    let n = 0;
    let next = 0;
    /** Patients in turn: a patient comes round again only after all the others (long after its window). */
    const nextPatient = () => patients[next++ % patients.length];
    const change = async (patient: string) => {
      const obs = await stack.ehr.create<Observation>(hdl(patient, n++));
      return Date.parse(obs.meta?.lastUpdated ?? '');
    };
    for (let round = 0; round < opts.rounds; round++) {
      const result: LatencyResult = { windowMs, loneMs: [], burstMs: [], perBurst: [] };
      for (let i = 0; i < opts.lone; i++) {
        const patient = nextPatient();
        const before = impressionsOf(stack, patient).length;
        const at = await change(patient);
        const [first] = await waitForImpressions(stack, patient, before + 1);
        result.loneMs.push(first - at);
        await idle(stack); // the next lone change must find a quiet pipeline
      }
      for (let i = 0; i < opts.bursts; i++) {
        const patient = nextPatient();
        const before = impressionsOf(stack, patient).length;
        let last = 0;
        for (let k = 0; k < opts.burstSize; k++) {
          last = await change(patient);
          await new Promise((r) => setTimeout(r, BURST_GAP_MS));
        }
        await idle(stack);
        const written = impressionsOf(stack, patient).slice(before);
        result.perBurst.push(written.length);
        result.burstMs.push(Math.max(...written) - last);
      }
      results.push(result);
    }
    return results;
  } finally {
    await stack.service.eventsQueue.obliterate({ force: true }).catch(() => {});
    await stack.service.assessQueue.obliterate({ force: true }).catch(() => {});
    await stack.close();
    await redis.stop();
  }
}

export const p50 = (xs: number[]) => percentile(xs, 50);

type Stack = Awaited<ReturnType<typeof startDemoStack>>;

/** When each of the patient's ClinicalImpressions was stored, oldest first (read in-process: not an EHR request). */
function impressionsOf(stack: Stack, patientId: string): number[] {
  const out: number[] = [];
  for (const ci of stack.sandbox.repo.resourcesOf('ClinicalImpression') as Iterable<ClinicalImpression>) {
    if (ci.subject?.reference === `Patient/${patientId}`) out.push(Date.parse(ci.meta?.lastUpdated ?? ''));
  }
  return out.sort((a, b) => a - b);
}

async function waitForImpressions(stack: Stack, patientId: string, count: number): Promise<number[]> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    const all = impressionsOf(stack, patientId);
    if (all.length >= count) return all.slice(count - 1);
    if (Date.now() > deadline) throw new Error(`no new assessment of Patient/${patientId} within 60 s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Both queues empty and the EHR's deliveries done, twice in a row. */
async function idle(stack: Stack): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  let quiet = 0;
  while (quiet < 2) {
    await stack.sandbox.notifier.idle();
    const counts = await Promise.all(
      [stack.service.eventsQueue, stack.service.assessQueue].map((q) =>
        q.getJobCounts('waiting', 'delayed', 'active', 'prioritized'),
      ),
    );
    quiet = counts.every((c) => Object.values(c).every((x) => x === 0)) ? quiet + 1 : 0;
    if (Date.now() > deadline) throw new Error('the pipeline did not go quiet within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A new HDL result, each one dated later than the one before (so each is the newest). */
function hdl(patientId: string, n: number): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: '2085-9', display: 'HDL Cholesterol' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: new Date(Date.parse('2021-03-30T10:00:00Z') + n * 60_000).toISOString(),
    valueQuantity: { value: 40 + (n % 30), unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
}
