import { createHash } from 'node:crypto';
import type {
  Annotation,
  ClinicalImpression,
  Coding,
  Device,
  Meta,
  Provenance,
  Reference,
  Resource,
  RiskAssessment,
} from '@medplum/fhirtypes';
import { ASSESSMENT_ID_SYSTEM, MODEL_CODE_SYSTEM, PROVENANCE_AUTHOR } from './ai-transparency.js';
import { hasIdentifier, when } from './previous-impression.js';

/** `meta.tag` on a RiskAssessment/ClinicalImpression this service withdrew because a newer one replaced it. */
export const SUPERSEDED_TAG: Coding = {
  system: 'http://fhir-assess.dev/CodeSystem/writeback-status',
  code: 'superseded',
  display: 'Superseded by a newer assessment of the same model',
};
/** `meta.tag` system of the Provenance recording one superseding (its conditional-create key). */
export const SUPERSEDE_TAG_SYSTEM = 'urn:fhir-assess:supersede';

export const ACTIVITY_UPDATE: Coding = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation',
  code: 'UPDATE',
  display: 'revise',
};

/** The assessment just written (or found written by an earlier attempt). */
export interface CurrentAssessment {
  /** Identifier value of its ClinicalImpression (`<assessment key>-impression`). */
  identifier: string;
  /** `ClinicalImpression/<id>` as the EHR holds it. */
  reference: string;
  /** Its `date` as written by this run (an earlier attempt's copy keeps its own, found in the search). */
  date: string;
  /** The status this run wrote (in-progress, or completed in final mode). */
  status: ClinicalImpression['status'];
  /** Its RiskAssessments: `RiskAssessment/<id>` per calculator code. */
  risks: Map<string, string>;
}

/** Which impressions to supersede, and by which one. */
export interface SupersedeDecision {
  /** `ClinicalImpression/<id>` that stays current. */
  winner: string;
  /** Its RiskAssessments per calculator, when the winner is this run's (notes then name the exact replacement). */
  winnerRisks: Map<string, string>;
  /** The in-progress impressions that lose, as found by the search. */
  targets: ClinicalImpression[];
}

const isOurs = (r: { identifier?: { system?: string }[] }) =>
  !!r.identifier?.some((i) => i.system === ASSESSMENT_ID_SYSTEM);

/**
 * One current assessment per model: among the model's in-progress (preliminary) impressions and the
 * one just written, the newest by `date` (ties: identifier) stays; every other in-progress one is
 * superseded. The rule is the same whoever applies it, so two workers that race (or two deployments
 * without a shared lock) agree on the winner instead of withdrawing each other's. Completed
 * (clinician-confirmed or final-mode) and entered-in-error impressions are never targets. When this
 * assessment's own impression was found with another status than it was written with (withdrawn
 * already, or acted on by a clinician), this is a stale replay: nothing is decided.
 */
export function chooseSuperseded(
  impressions: ClinicalImpression[],
  current: CurrentAssessment,
): SupersedeDecision | undefined {
  const found = impressions.find((ci) => hasIdentifier(ci, current.identifier));
  if (found && found.status !== current.status) return undefined;
  const own: ClinicalImpression = {
    resourceType: 'ClinicalImpression',
    id: current.reference.split('/')[1],
    status: current.status,
    subject: found?.subject ?? {},
    identifier: [{ system: ASSESSMENT_ID_SYSTEM, value: current.identifier }],
    date: found?.date ?? current.date,
    // When a newer one wins over this one, its results are withdrawn too.
    prognosisReference: [...current.risks.values()].map((reference) => ({ reference })),
  };
  const others = impressions.filter(
    (ci) => !hasIdentifier(ci, current.identifier) && isOurs(ci) && ci.status === 'in-progress' && ci.id,
  );
  const contenders = [own, ...others];
  const winner = contenders.reduce((a, b) => (newer(b, a) ? b : a));
  return {
    winner: `ClinicalImpression/${winner.id}`,
    winnerRisks: winner === own ? current.risks : new Map(),
    targets: contenders.filter((ci) => ci !== winner && ci.status === 'in-progress'),
  };
}

function newer(a: ClinicalImpression, b: ClinicalImpression): boolean {
  const d = when(a) - when(b);
  return d !== 0 ? d > 0 : identifierOf(a) > identifierOf(b);
}

const identifierOf = (ci: ClinicalImpression) =>
  ci.identifier?.find((i) => i.system === ASSESSMENT_ID_SYSTEM)?.value ?? ci.id ?? '';

/** A RiskAssessment we may withdraw: ours and still preliminary (never final/amended/corrected/cancelled/in error). */
export function mayWithdrawRisk(r: Resource): r is RiskAssessment {
  return r.resourceType === 'RiskAssessment' && isOurs(r) && r.status === 'preliminary';
}

/** An impression we may conclude: ours, this model's, still in-progress (never completed or in error). */
export function mayConcludeImpression(r: Resource, modelId: string): r is ClinicalImpression {
  return (
    r.resourceType === 'ClinicalImpression' &&
    isOurs(r) &&
    r.status === 'in-progress' &&
    !!r.code?.coding?.some((c) => c.system === MODEL_CODE_SYSTEM && c.code === modelId)
  );
}

const tagged = (meta: Meta | undefined): Meta => ({
  ...meta,
  tag: [...(meta?.tag ?? []).filter((t) => t.system !== SUPERSEDED_TAG.system), SUPERSEDED_TAG],
});

/**
 * The withdrawn copy of a preliminary RiskAssessment: `cancelled` (ObservationStatus: "unavailable
 * because the measurement was not started or not completed"; here: withdrawn before a clinician
 * confirmed it), tagged, with a note naming its replacement. Everything else is kept as it was.
 */
export function withdrawnRisk(r: RiskAssessment, d: SupersedeDecision, now: Date): RiskAssessment {
  const calculator = r.method?.coding?.[0]?.code;
  const replacement = (calculator && d.winnerRisks.get(calculator)) || d.winner;
  return {
    ...r,
    meta: tagged(r.meta),
    status: 'cancelled',
    note: withNote(
      r.note,
      now,
      `Superseded by ${replacement} (a newer assessment by the same model); withdrawn before a clinician confirmed it.`,
    ),
  };
}

/** The notes with ours appended (authored by this service, at `now`). */
function withNote(notes: Annotation[] | undefined, now: Date, text: string): Annotation[] {
  return [...(notes ?? []), { authorString: 'fhir-assess', time: now.toISOString(), text }];
}

/**
 * The concluded copy of an in-progress ClinicalImpression: `completed` (EventStatus: "the event has
 * now concluded"; R4 ClinicalImpression has no `stopped`), tagged superseded, with a note naming its
 * replacement (whose `previous` already points here).
 */
export function concludedImpression(ci: ClinicalImpression, d: SupersedeDecision, now: Date): ClinicalImpression {
  return {
    ...ci,
    meta: tagged(ci.meta),
    status: 'completed',
    note: withNote(
      ci.note,
      now,
      `Superseded by ${d.winner} (a newer assessment by the same model); those of its RiskAssessments still preliminary were withdrawn (cancelled); confirmed ones are left as they are.`,
    ),
  };
}

/**
 * The Provenance of one superseding (activity UPDATE): targets = the withdrawn resources, author =
 * this service's Device (a rule, not the model, changed them), entity = the replacing impression.
 * The model's own Provenance of each resource is never changed. Its tag keys a conditional create.
 */
export function supersedeProvenance(
  targets: string[],
  winner: string,
  serviceDevice: Reference<Device>,
  now: Date,
): Provenance {
  const code = createHash('sha256')
    .update([winner, ...[...targets].sort()].join('|'))
    .digest('hex')
    .slice(0, 32);
  return {
    resourceType: 'Provenance',
    meta: { tag: [{ system: SUPERSEDE_TAG_SYSTEM, code }] },
    target: targets.map((reference) => ({ reference })),
    occurredDateTime: now.toISOString(),
    recorded: now.toISOString(),
    activity: { coding: [ACTIVITY_UPDATE] },
    reason: [{ text: 'Superseded by a newer assessment of the same model for the same patient' }],
    agent: [{ type: PROVENANCE_AUTHOR, who: serviceDevice }],
    entity: [{ role: 'source', what: { reference: winner } }],
  };
}
