import type { ClinicalImpression, Device, Reference, Resource } from '@medplum/fhirtypes';
import { type FhirClient, FhirHttpError } from '../fhir/fhir-client.js';
import type { ReturnPolicy } from './return-preference.js';
import { isConflict, readCurrent, type StatusUpdate, sendUpdates } from './status-updates.js';
import {
  type CurrentAssessment,
  chooseSuperseded,
  concludedImpression,
  mayConcludeImpression,
  mayWithdrawRisk,
  type SupersedeDecision,
  supersedeProvenance,
  withdrawnRisk,
} from './supersede-plan.js';
import { validateOne } from './validate.js';

/** Read-decide-write rounds before a version conflict is left to the job's retry. */
const MAX_ROUNDS = 3;

export interface SupersedeInput {
  modelId: string;
  /** The model's impressions for the patient, as searched before this write (see findModelImpressions). */
  impressions: ClinicalImpression[];
  current: CurrentAssessment;
  serviceDevice: Reference<Device>;
  now: Date;
  policy?: ReturnPolicy;
}

export interface SupersedeResult {
  /** `Type/id` of every resource withdrawn (RiskAssessments) or concluded (ClinicalImpressions) now. */
  superseded: string[];
  /** Why nothing could be superseded although something should have been (the EHR refused updates). */
  skipped?: string;
}

type Update = StatusUpdate;

/**
 * Withdraws the previous preliminary results of the model once a newer assessment is written (see
 * chooseSuperseded for the rule and supersede-plan.ts for what changes). Reads the losing
 * impressions and their RiskAssessments (one batch), re-checks each one's status on the fresh copy,
 * and updates them with `If-Match` on the version read, so a clinician who finalises one meanwhile
 * wins: the conflict (412/409) makes us read again and decide again. One transaction when the EHR
 * takes them (the updates and their Provenance commit together), else single PUTs, RiskAssessments
 * before their impression, so a crash in between leaves the impression in-progress and the next
 * attempt finishes it. Idempotent: what is withdrawn already is no longer a candidate.
 * A refusal that will not change (e.g. 403/405: updates not allowed) is reported, not thrown: the
 * new assessment is committed and must not fail; transient errors and lasting conflicts throw
 * (plain, retryable errors).
 */
export async function supersedePrevious(client: FhirClient, input: SupersedeInput): Promise<SupersedeResult> {
  const decision = chooseSuperseded(input.impressions, input.current);
  if (!decision?.targets.length) return { superseded: [] };
  try {
    for (let round = 1; ; round++) {
      const updates = await planUpdates(client, decision, input);
      if (!updates.length) return { superseded: [] };
      try {
        await writeUpdates(client, updates, decision, input);
        return { superseded: updates.map((u) => `${u.resource.resourceType}/${u.resource.id}`) };
      } catch (err) {
        if (!isConflict(err)) throw err;
        if (round >= MAX_ROUNDS) {
          throw new Error(`superseding kept meeting version conflicts (${MAX_ROUNDS} rounds); will retry`);
        }
      }
    }
  } catch (err) {
    if (err instanceof FhirHttpError && !err.retryable && !isConflict(err)) {
      return { superseded: [], skipped: `EHR refused the update (HTTP ${err.status} on ${err.url})` };
    }
    throw err;
  }
}

/** Fresh copies of the losing impressions and their RiskAssessments, reduced to those we may still change. */
async function planUpdates(client: FhirClient, d: SupersedeDecision, input: SupersedeInput): Promise<Update[]> {
  const riskRefs = d.targets.flatMap((ci) => (ci.prognosisReference ?? []).map((r) => r.reference ?? ''));
  const ciRefs = d.targets.map((ci) => `ClinicalImpression/${ci.id}`);
  const refs = [...new Set([...riskRefs.filter((r) => r.startsWith('RiskAssessment/')), ...ciRefs])];
  const fresh = await readCurrent(client, refs);
  const risks = fresh.filter(mayWithdrawRisk).map((r) => withdrawnRisk(r, d, input.now));
  const impressions = fresh
    .filter((r) => mayConcludeImpression(r, input.modelId))
    .map((ci) => concludedImpression(ci as ClinicalImpression, d, input.now));
  // RiskAssessments first: an impression is concluded only with (or after) its results.
  return [...risks, ...impressions].map((resource) => ({
    resource: resource as Resource & { id: string },
    versionId: resource.meta?.versionId,
  }));
}

async function writeUpdates(
  client: FhirClient,
  updates: Update[],
  d: SupersedeDecision,
  input: SupersedeInput,
): Promise<void> {
  const targets = updates.map((u) => `${u.resource.resourceType}/${u.resource.id}`);
  const provenance = supersedeProvenance(targets, d.winner, input.serviceDevice, input.now);
  const problems = validateOne(provenance, 'preliminary').filter((i) => i.severity === 'error');
  if (problems.length) throw new Error(`supersede Provenance does not validate: ${problems[0].details?.text}`);
  const tag = provenance.meta?.tag?.[0];
  // In a transaction the Provenance commits exactly with the updates: no condition needed (nor sent).
  const ifNoneExist = `_tag=${encodeURIComponent(`${tag?.system}|${tag?.code}`)}`;
  await sendUpdates(client, updates, provenance, ifNoneExist, input.policy, false);
}
