import { createHash } from 'node:crypto';
import type { Annotation, Coding, Provenance, Reference, Resource } from '@medplum/fhirtypes';
import { DEVICE_ID_SYSTEM, PROVENANCE_AUTHOR } from '../../writeback/ai-transparency.js';

/** `meta.tag` on an output withdrawn because its model version was recalled. */
export const RECALLED_TAG: Coding = {
  system: 'http://fhir-assess.dev/CodeSystem/writeback-status',
  code: 'recalled',
  display: 'Withdrawn: the model version that made it was recalled',
};
/** `meta.tag` system of a recall's Provenance (its conditional-create key: one per recalled assessment). */
export const RECALL_TAG_SYSTEM = 'urn:fhir-assess:recall';

/** v3-DataOperation NULLIFY: "postulate an act as being in error" (what entered-in-error records). */
const ACTIVITY_NULLIFY: Coding = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation',
  code: 'NULLIFY',
  display: 'nullify',
};
const PERFORMER = {
  coding: [
    {
      system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
      code: 'performer',
      display: 'Performer',
    },
  ],
};

export const isRecalled = (r: Resource) =>
  !!r.meta?.tag?.some((t) => t.system === RECALLED_TAG.system && t.code === RECALLED_TAG.code);

/** RiskAssessment and ClinicalImpression both say "this should not have existed" with entered-in-error. */
export function mayRecall(r: Resource): boolean {
  const status = (r as { status?: string }).status;
  return (
    (r.resourceType === 'RiskAssessment' || r.resourceType === 'ClinicalImpression') && status !== 'entered-in-error'
  );
}

/** The recalled copy: entered-in-error, tagged, with a note saying which version and why. The rest is kept. */
export function recalledCopy<T extends Resource>(r: T, model: string, reason: string, now: Date): T {
  const note: Annotation = {
    authorString: 'fhir-assess',
    time: now.toISOString(),
    text: `Entered in error: the AI model ${model} that produced this was recalled (${reason}). Do not use it.`,
  };
  const notes = ((r as { note?: Annotation[] }).note ?? []).concat(note);
  return {
    ...r,
    meta: { ...r.meta, tag: [...(r.meta?.tag ?? []).filter((t) => t.system !== RECALLED_TAG.system), RECALLED_TAG] },
    status: 'entered-in-error',
    note: notes,
  };
}

/**
 * The Provenance of one recalled assessment: targets = its outputs, activity NULLIFY, performer = this
 * service (by identifier), author = the person who ordered the recall, entity = the model's own
 * Provenance (never changed). Its tag (recall + model Provenance) keys a conditional create, so a
 * resumed or repeated recall finds it instead of writing another.
 */
export function recallProvenance(
  targets: string[],
  modelProvenance: string,
  recall: { model: string; reason: string; by: string; serviceVersion: string },
  now: Date,
): Provenance {
  return {
    resourceType: 'Provenance',
    meta: { tag: [{ system: RECALL_TAG_SYSTEM, code: recallKey(recall.model, modelProvenance) }] },
    target: targets.map((reference): Reference => ({ reference })),
    occurredDateTime: now.toISOString(),
    recorded: now.toISOString(),
    activity: { coding: [ACTIVITY_NULLIFY] },
    reason: [{ text: `Model recall of ${recall.model}: ${recall.reason}` }],
    agent: [
      {
        type: PERFORMER,
        who: {
          identifier: { system: DEVICE_ID_SYSTEM, value: `fhir-assess-service@${recall.serviceVersion}` },
          display: 'fhir-assess integration service',
        },
      },
      { type: PROVENANCE_AUTHOR, who: { display: recall.by } },
    ],
    entity: [{ role: 'source', what: { reference: modelProvenance } }],
  };
}

export function recallKey(model: string, modelProvenance: string): string {
  return createHash('sha256').update(`${model}|${modelProvenance}`).digest('hex').slice(0, 32);
}
