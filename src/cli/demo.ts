import type { ClinicalImpression, Patient, Provenance, RiskAssessment } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import { countAudit } from '../governance/audit-query.js';
import { verifyChain } from '../governance/audit-verify.js';
import { EHR_PROFILE_NAMES, isEhrProfileName } from '../sandbox/index.js';
import type { RunningService } from '../service.js';
import { intOption, parse, UsageError } from './args.js';
import { databaseForDemo, NO_DATABASE } from './database-for-cli.js';
import { ageAt, DEMO_AS_OF, newClinicalData } from './demo-data.js';
import { startDemoStack } from './demo-stack.js';
import { redisForDemo } from './redis-for-demo.js';
import { table } from './text-table.js';

const WAIT_LIMIT_MS = 120_000;

/**
 * `fhir-assess demo [--keep] [--patients N] [--behave generic|medplum|hapi|epic]`: the whole pipeline
 * on embedded defaults. A sandbox EHR (behaving like the named EHR) with the shipped Synthea patients,
 * the service (HTTP + workers) connected the way that EHR needs (its own Subscriptions, or polling);
 * new lipid and blood-pressure results are written for several patients, and the demo waits until the
 * AI assessments are written back, then prints them.
 */
export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    keep: { type: 'boolean' },
    patients: { type: 'string' },
    behave: { type: 'string' },
    'log-level': { type: 'string' },
  });
  const count = intOption(values.patients as string | undefined, 'patients', 5);
  const behave = (values.behave as string | undefined) ?? 'generic';
  if (!isEhrProfileName(behave)) {
    throw new UsageError(`--behave must be one of ${EHR_PROFILE_NAMES.join(', ')} (got '${behave}')`);
  }
  const say = (s: string) => process.stdout.write(`${s}\n`);

  const redis = await redisForDemo();
  say(`Redis: ${redis.how}`);
  const database = await databaseForDemo(process.env);
  say(database ? `Audit trail and model registry: ${database.how}` : `Audit trail: ${NO_DATABASE}`);
  const stack = await startDemoStack({
    behave,
    redisUrl: redis.url,
    logLevel: (values['log-level'] as string | undefined) ?? 'warn',
    env: database ? { DATABASE_URL: database.url } : undefined,
  });
  const { sandbox, service, cfg, ehr } = stack;
  say(
    `Sandbox EHR: ${sandbox.baseUrl} (behaving like ${behave}: ${sandbox.profile.imitates}; Synthea patients from data/synthea)`,
  );
  say(`fhir-assess service: ${service.url} (notifications at ${cfg.PUBLIC_URL}/notify)`);
  say(`Changes reach the service by: ${stack.intake}\n`);

  const patients = (await ehr.searchAll<Patient>('Patient', { _count: '200' }))
    .filter((p) => !p.deceasedDateTime && !p.deceasedBoolean)
    .filter((p) => {
      const age = ageAt(p, DEMO_AS_OF) ?? 0;
      return age >= 40 && age <= 79;
    })
    .slice(0, count);
  const started = Date.now();
  const writtenAt = new Map<string, string>();
  for (const [i, p] of patients.entries()) {
    // One create per resource, as a clinical system would write them (the Epic-like EHR takes no Bundles).
    for (const entry of newClinicalData(p.id!, i).entry ?? []) if (entry.resource) await ehr.create(entry.resource);
    writtenAt.set(p.id!, new Date().toISOString());
    say(`  wrote a lipid panel and a blood pressure for Patient/${p.id}`);
  }
  say(`\nWaiting for AI assessments to be written back (coalescing window ${cfg.COALESCE_WINDOW_MS} ms)...`);
  const rows: string[][] = [];
  for (const p of patients) {
    const impressions = await waitFor(
      async () => {
        // The current impression made after the new data was written: the service may also have
        // assessed the patient at start-up (its first poll looks back 24 h), from the older record.
        const found = await ehr.searchAll<ClinicalImpression>('ClinicalImpression', { subject: `Patient/${p.id}` });
        const current = found.filter(
          (ci) => ci.status === 'in-progress' && (ci.date ?? '') >= (writtenAt.get(p.id!) ?? ''),
        );
        return current.length ? current : undefined;
      },
      WAIT_LIMIT_MS,
      `the assessment of Patient/${p.id}`,
    );
    rows.push(...(await describe(ehr, p, impressions)));
  }
  say(`All ${patients.length} assessments written in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
  say(table(['patient', 'age/sex', 'calculator', 'result', 'risk category', 'written', 'and for the run'], rows));
  say('\nAll written with status preliminary and labelled AIAST (AI-asserted); ids shortened to 8 characters.');

  if (values.keep) {
    say(
      `\nRunning until Ctrl-C. Look at:\n  ${sandbox.baseUrl}/RiskAssessment\n  ${sandbox.baseUrl}/ClinicalImpression\n  ${sandbox.baseUrl}/Provenance\n  ${service.url}/readyz`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  if (database) say(`\n${await auditSummary(service)}`);
  await stack.close();
  if (!values.keep) await database?.drop();
  await redis.stop();
  return 0;
}

/** One line on what the audit trail recorded during the demo, and that its chain verifies. */
async function auditSummary(service: RunningService): Promise<string> {
  if (!service.db) return '';
  const inferences = await countAudit(service.db, { action: ['inference'] });
  const chain = await verifyChain(service.db);
  return `Audit trail: ${inferences} inference record(s) in PostgreSQL; hash chain ${chain.ok ? `verifies (${chain.checked} records, head ${chain.head?.hash.slice(0, 12)}…)` : `BROKEN at record ${chain.broken?.seq}`}.`;
}

/** Ids are shortened to their first 8 characters to keep the table on one screen. */
const short = (ref: string) => ref.replace(/^(\w+)\/(.{8}).*$/, '$1/$2');

/** One row per written RiskAssessment; the patient's ClinicalImpression and Provenance on its first row. */
async function describe(ehr: FhirClient, p: Patient, impressions: ClinicalImpression[]): Promise<string[][]> {
  const ci = impressions[0];
  // The impression's own RiskAssessments: older, superseded ones of the patient are left out.
  const own = new Set((ci.prognosisReference ?? []).map((r) => r.reference));
  const risks = (await ehr.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${p.id}` })).filter((r) =>
    own.has(`RiskAssessment/${r.id}`),
  );
  const provs = await ehr.searchAll<Provenance>('Provenance', { target: `ClinicalImpression/${ci.id}` });
  const summary = [`ClinicalImpression/${ci.id}`, ...provs.map((x) => `Provenance/${x.id}`)].map(short).join(' ');
  const who = [short(`Patient/${p.id}`), `${ageAt(p, DEMO_AS_OF)} ${p.gender ?? ''}`];
  if (!risks.length) return [[...who, '-', 'not computed', brief(ci.summary ?? ''), summary]];
  return risks
    .sort((a, b) => (a.method?.coding?.[0]?.code ?? '').localeCompare(b.method?.coding?.[0]?.code ?? ''))
    .map((r, i) => {
      const pred = r.prediction?.[0];
      const category = shortCategory(pred?.qualitativeRisk?.text ?? pred?.qualitativeRisk?.coding?.[0]?.code ?? '-');
      const cells = [r.method?.coding?.[0]?.code ?? 'model', result(pred), category, short(`RiskAssessment/${r.id}`)];
      return [...(i === 0 ? who : ['', '']), ...cells, i === 0 ? summary : ''];
    });
}

/** "low (<10 %; fhir-assess 30-year band, ...)" -> "low (<10 %)". */
function shortCategory(text: string): string {
  const head = text.split(/[;:]/)[0].trim();
  return head.includes('(') && !head.includes(')') ? `${head})` : head;
}

/** "5.4 % at 10 y", or the rationale's first clause for scores without a probability. */
function result(pred: NonNullable<RiskAssessment['prediction']>[number] | undefined): string {
  if (pred?.probabilityDecimal === undefined) return (pred?.rationale ?? '-').split(/[;,(]| by /)[0].slice(0, 32);
  const { start, end } = pred.whenPeriod ?? {};
  const years = start && end ? Math.round((Date.parse(end) - Date.parse(start)) / 31_557_600_000) : undefined;
  return `${(pred.probabilityDecimal * 100).toFixed(1)} %${years ? ` at ${years} y` : ''}`;
}

/** "... not applicable: prior clinical ASCVD: Coronary Heart Disease (Condition/...)" -> "not applicable: prior clinical ASCVD". */
function brief(summary: string): string {
  const m = /(not applicable: [^:(]+|missing[^.(]*)/i.exec(summary);
  return (m?.[1] ?? summary).trim().slice(0, 48);
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, limitMs: number, what: string): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (v) return v as T;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${limitMs / 1000} s waiting for ${what}; run with --log-level info to see the pipeline's logs`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}
