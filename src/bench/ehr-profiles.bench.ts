import type { ClinicalImpression, Patient } from '@medplum/fhirtypes';
import { ageAt, DEMO_AS_OF, newClinicalData } from '../cli/demo-data.js';
import { type DemoStack, startDemoStack } from '../cli/demo-stack.js';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { EHR_PROFILE_NAMES, type SandboxRequestSeen } from '../sandbox/index.js';
import type { Bench } from './bench.js';

const API_KEY = 'bench-ehr-profiles-api-key-0123456789';
/** Patients measured per profile (each: one `$assess` on an unchanged record, one new-data assessment). */
const PATIENTS = 3;
/** Upper bound on waiting for an assessment or an idle queue (ms). */
const WAIT_LIMIT_MS = 120_000;

/** What one measured step cost the EHR, by kind of request. */
interface Cost {
  reads: number;
  writes: number;
  /** `_lastUpdated` change searches, Subscription reads, tokens: the intake's own timers and auth, reported apart. */
  background: number;
}

/**
 * EHR round trips per assessment in each sandbox profile, the way the demo connects the service
 * (its own Subscriptions on push EHRs, polling with SMART Backend Services on the Epic-like one):
 * `$assess` on a record that has not changed (reads only: the written assessment is found, nothing
 * is written twice), and a new lab result reaching the service through the EHR's own intake path
 * until its assessment is written and the older one superseded. The requests are counted by the
 * sandbox itself, as the EHR would see them.
 */
export const bench: Bench = {
  name: 'ehr-profiles',
  title: 'EHR round trips per assessment per sandbox profile (Medplum, HAPI, Epic-like, generic)',
  async run(log): Promise<Record<string, number | string>> {
    const redis = await redisForDemo();
    const summary: Record<string, number | string> = {};
    log('');
    log('| profile | path | reads | writes | round trips per assessment | background requests meanwhile |');
    log('|---|---|---|---|---|---|');
    try {
      for (const behave of EHR_PROFILE_NAMES) {
        const counter = new RequestCounter();
        const stack = await startDemoStack({
          behave,
          redisUrl: redis.url,
          logLevel: 'silent',
          env: { API_KEYS: API_KEY, ASSESS_SYNC_TIMEOUT_MS: '60000', EHR_RATE_LIMIT: '0' },
          onEhrResponse: (r) => counter.see(r),
        });
        try {
          const result = await measureProfile(stack, counter);
          for (const [path, cost] of Object.entries(result)) {
            const total = (cost.reads + cost.writes) / PATIENTS;
            log(
              `| ${behave} | ${path} | ${fmt(cost.reads / PATIENTS)} | ${fmt(cost.writes / PATIENTS)} | ${fmt(total)} | ${cost.background} |`,
            );
            summary[`${behave}.${path}`] = Number(total.toFixed(2));
          }
        } finally {
          await stack.service.eventsQueue.obliterate({ force: true }).catch(() => {});
          await stack.service.assessQueue.obliterate({ force: true }).catch(() => {});
          await stack.close();
        }
      }
    } finally {
      await redis.stop();
    }
    log(
      '\nreads = GET, search and batch Bundles of searches (one round trip each); writes = POST/PUT/DELETE of our output.',
    );
    log(
      'background = change searches (_lastUpdated), Subscription reads and token requests by the intake timers during the step.',
    );
    return summary;
  },
};

async function measureProfile(stack: DemoStack, counter: RequestCounter): Promise<Record<string, Cost>> {
  await idle(stack);
  const patients = (await stack.ehr.searchAll<Patient>('Patient', { _count: '200' }))
    .filter((p) => !p.deceasedDateTime && !p.deceasedBoolean)
    .filter((p) => (ageAt(p, DEMO_AS_OF) ?? 0) >= 40 && (ageAt(p, DEMO_AS_OF) ?? 0) <= 79)
    .slice(0, PATIENTS);
  const unchanged = emptyCost();
  const newData = emptyCost();
  for (const [i, p] of patients.entries()) {
    // A first $assess writes the patient's assessment if none exists yet; the measured one finds it.
    await assess(stack, p.id as string);
    await idle(stack);
    counter.start();
    await assess(stack, p.id as string);
    add(unchanged, counter.stop());

    const before = currentImpression(stack, p.id as string);
    for (const entry of newClinicalData(p.id as string, i).entry ?? []) {
      if (entry.resource) await stack.ehr.create(entry.resource);
    }
    counter.start();
    await waitFor(() => {
      const now = currentImpression(stack, p.id as string);
      return now && now.id !== before?.id ? true : undefined;
    }, `a new assessment of Patient/${p.id}`);
    await idle(stack);
    add(newData, counter.stop());
  }
  return { '$assess, record unchanged': unchanged, 'new lab result -> written + superseded': newData };
}

async function assess(stack: DemoStack, patientId: string): Promise<void> {
  const res = await fetch(`${stack.service.url}/fhir/Patient/${patientId}/$assess`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`$assess of Patient/${patientId} answered ${res.status}`);
}

/** The patient's current (in-progress, not superseded) impression, read in-process: no HTTP, not counted. */
function currentImpression(stack: DemoStack, patientId: string): ClinicalImpression | undefined {
  for (const ci of stack.sandbox.repo.resourcesOf('ClinicalImpression') as Iterable<ClinicalImpression>) {
    if (ci.subject?.reference === `Patient/${patientId}` && ci.status === 'in-progress') return ci;
  }
  return undefined;
}

/** Both queues empty (nothing waiting, delayed for coalescing, or running) twice in a row. */
async function idle(stack: DemoStack): Promise<void> {
  let quiet = 0;
  await waitFor(async () => {
    const counts = await Promise.all(
      [stack.service.eventsQueue, stack.service.assessQueue].map((q) =>
        q.getJobCounts('waiting', 'delayed', 'active', 'prioritized'),
      ),
    );
    quiet = counts.every((c) => Object.values(c).every((n) => n === 0)) ? quiet + 1 : 0;
    return quiet >= 2 ? true : undefined;
  }, 'the queues to drain');
}

async function waitFor(probe: () => unknown, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

class RequestCounter {
  private cost: Cost | undefined;

  start(): void {
    this.cost = emptyCost();
  }

  stop(): Cost {
    const cost = this.cost ?? emptyCost();
    this.cost = undefined;
    return cost;
  }

  see(r: SandboxRequestSeen): void {
    if (!this.cost) return;
    if (/[?&]_lastUpdated=|\/Subscription(?:[/?]|$)|\/oauth2\/token/.test(r.url)) this.cost.background++;
    else if (r.method === 'GET' || r.url.includes('/_search') || r.bundleType === 'batch') this.cost.reads++;
    else this.cost.writes++;
  }
}

const emptyCost = (): Cost => ({ reads: 0, writes: 0, background: 0 });

function add(into: Cost, c: Cost): void {
  into.reads += c.reads;
  into.writes += c.writes;
  into.background += c.background;
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
