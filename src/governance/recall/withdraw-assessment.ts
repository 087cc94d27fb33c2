import type { Provenance } from '@medplum/fhirtypes';
import type { FhirClient } from '../../fhir/fhir-client.js';
import { isConflict, readCurrent, sendUpdates, updateOf } from '../../writeback/status-updates.js';
import { validateOne } from '../../writeback/validate.js';
import { isRecalled, mayRecall, RECALL_TAG_SYSTEM, recalledCopy, recallProvenance } from './recall-marks.js';

/** Read-decide-write rounds before a version conflict fails the recall (a re-run continues it). */
const MAX_ROUNDS = 3;

export interface RecallInfo {
  /** `id@version` */
  model: string;
  reason: string;
  by: string;
  serviceVersion: string;
}

export interface Withdrawal {
  changed: number;
  targets: string[];
  patient?: string;
}

/**
 * Withdraws one assessment of a recalled version, found through the model's own Provenance (whose
 * targets are the assessment's RiskAssessments and ClinicalImpression): each one not yet in error
 * becomes entered-in-error (If-Match the version just read), and one recall Provenance records why.
 * Idempotent: what is withdrawn already is left alone, and the Provenance is a conditional create.
 * @returns how many resources this call changed (0 when all were withdrawn already), every output
 *   the recall has withdrawn for this assessment, and its patient
 */
export async function withdrawAssessment(
  client: FhirClient,
  modelProvenance: Provenance,
  recall: RecallInfo,
  now: Date,
): Promise<Withdrawal> {
  const refs = (modelProvenance.target ?? [])
    .map((t) => t.reference ?? '')
    .filter((r) => r.startsWith('RiskAssessment/') || r.startsWith('ClinicalImpression/'));
  for (let round = 1; ; round++) {
    const fresh = await readCurrent(client, refs);
    const updates = fresh.filter(mayRecall).map((r) => updateOf(recalledCopy(r, recall.model, recall.reason, now)));
    // Every output this recall withdraws, now or in an earlier (interrupted) run; not those a clinician rejected.
    const targets = fresh.filter((r) => mayRecall(r) || isRecalled(r)).map((r) => `${r.resourceType}/${r.id}`);
    if (!targets.length) return { changed: 0, targets };
    const provenance = recallProvenance(targets, `Provenance/${modelProvenance.id}`, recall, now);
    const problems = validateOne(provenance, 'preliminary').filter((i) => i.severity === 'error');
    if (problems.length) throw new Error(`recall Provenance does not validate: ${problems[0].details?.text}`);
    const code = provenance.meta?.tag?.[0].code;
    try {
      await sendUpdates(client, updates, provenance, `_tag=${encodeURIComponent(`${RECALL_TAG_SYSTEM}|${code}`)}`);
      const patient = (fresh[0] as { subject?: { reference?: string } } | undefined)?.subject?.reference;
      return { changed: updates.length, targets, patient };
    } catch (err) {
      if (!isConflict(err) || round >= MAX_ROUNDS) throw err;
    }
  }
}
