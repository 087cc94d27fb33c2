import type {
  ClinicalImpression,
  ClinicalImpressionFinding,
  Device,
  Meta,
  Observation,
  Provenance,
  Reference,
  RiskAssessment,
  RiskAssessmentPrediction,
} from '@medplum/fhirtypes';
import type { DerivedValue, ModelOutput, Prediction } from '../models/model.js';
import {
  ACTIVITY_CREATE,
  AI_DEVICE_TYPE,
  AIAST,
  ASSESSMENT_ID_SYSTEM,
  CALCULATOR_SYSTEM,
  DERIVED_ID_SYSTEM,
  MODEL_CODE_SYSTEM,
  PROVENANCE_ASSEMBLER,
  PROVENANCE_AUTHOR,
  RISK_PROBABILITY_SYSTEM,
} from './ai-transparency.js';
import { PROFILE } from './profiles/profiles.js';

export { modelDevice, serviceDevice } from './map-devices.js';

export type WriteMode = 'preliminary' | 'final';

export interface MappingContext {
  patientId: string;
  key: string;
  mode: WriteMode;
  asOf: Date;
  now: Date;
  modelTitle: string;
  /** References (urn:uuid or Type/id) the resources use for the model Device and this service's Device. */
  modelDevice: Reference<Device>;
  serviceDevice: Reference<Device>;
  /** The patient's previous ClinicalImpression from the same model, if any. */
  previous?: Reference<ClinicalImpression>;
}

/** Profile, AIAST label and the assessment-key tag (Provenance has no identifier in R4: it is found by the tag). */
const meta = (key: string, profile: string): Meta => ({
  profile: [profile],
  security: [AIAST],
  tag: [{ system: ASSESSMENT_ID_SYSTEM, code: key }],
});

/** One RiskAssessment per prediction (calculator); probability on the 0–1 scale. */
export function riskAssessment(p: Prediction, output: ModelOutput, ctx: MappingContext): RiskAssessment {
  return {
    resourceType: 'RiskAssessment',
    meta: meta(ctx.key, PROFILE.riskAssessment),
    identifier: [{ system: ASSESSMENT_ID_SYSTEM, value: `${ctx.key}-${p.calculator}` }],
    status: ctx.mode === 'final' ? 'final' : 'preliminary',
    subject: { reference: `Patient/${ctx.patientId}` },
    occurrenceDateTime: ctx.now.toISOString(),
    method: { coding: [{ system: CALCULATOR_SYSTEM, code: p.calculator }], text: p.outcome.text },
    performer: { ...ctx.modelDevice, display: `${output.modelId} ${output.modelVersion}` },
    basis: uniqueRefs(p.inputsUsed.map((i) => i.source)),
    prediction: [prediction(p, ctx.asOf)],
    note: [
      {
        text: `AI-generated (${output.modelId} ${output.modelVersion}); ${ctx.mode === 'final' ? 'final' : 'preliminary until a clinician confirms'}. Probability is on a 0–1 scale.`,
      },
    ],
  };
}

function prediction(p: Prediction, asOf: Date): RiskAssessmentPrediction {
  const end = p.horizonYears ? new Date(asOf) : undefined;
  end?.setUTCFullYear(asOf.getUTCFullYear() + (p.horizonYears ?? 0));
  // Absent values are left out, not set to undefined: the validator treats a present key as a value.
  return {
    outcome: p.outcome,
    ...(p.probability !== undefined && { probabilityDecimal: p.probability }),
    ...(p.qualitativeRisk && {
      qualitativeRisk: { coding: [{ system: RISK_PROBABILITY_SYSTEM, code: p.qualitativeRisk }], text: p.category },
    }),
    ...(end && { whenPeriod: { start: asOf.toISOString().slice(0, 10), end: end.toISOString().slice(0, 10) } }),
    rationale: p.rationale,
  };
}

const UCUM = 'http://unitsofmeasure.org';

/**
 * SNOMED CT 703505007 "Clearance calculation relative to 1.73 square meters body surface area", the method the
 * HL7 Switzerland lab IG uses for eGFR (hl7ch/ch-lab-report ChLabObservation_eGFR), with the equation as text.
 */
const EGFR_METHOD_SCT = {
  system: 'http://snomed.info/sct',
  code: '703505007',
  display: 'Clearance calculation relative to 1.73 square meters body surface area (qualifier value)',
};

/**
 * A value a calculator computed from other observations (eGFR from creatinine), written as a lab would report it:
 * effective at the source measurement, `derivedFrom` it, the equation as `method`. Labelled AIAST like every
 * output (machine-computed, not measured: our intake and record assembly ignore it, so it never triggers an
 * assessment nor feeds one), with the model Device as `device`, and preliminary until a clinician confirms. Its
 * identifier is a key of its inputs, so the same creatinine gives one Observation however often it is assessed.
 */
export function derivedObservation(d: DerivedValue, output: ModelOutput, ctx: MappingContext): Observation {
  return {
    resourceType: 'Observation',
    meta: { security: [AIAST] },
    identifier: [{ system: DERIVED_ID_SYSTEM, value: d.key }],
    status: ctx.mode === 'final' ? 'final' : 'preliminary',
    category: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: d.code.code, display: d.code.display }], text: d.code.text },
    subject: { reference: `Patient/${ctx.patientId}` },
    effectiveDateTime: d.effective,
    issued: ctx.now.toISOString(),
    valueQuantity: { value: d.value, unit: d.unit.replace('{1.73_m2}', '1.73m2'), system: UCUM, code: d.unit },
    method: { ...(d.code.code === '98979-8' && { coding: [EGFR_METHOD_SCT] }), text: d.method },
    device: { ...ctx.modelDevice, display: `${output.modelId} ${output.modelVersion}` },
    derivedFrom: d.derivedFrom.map((reference) => ({ reference })),
    note: [
      {
        text: `Computed by ${output.modelId} ${output.modelVersion} from ${d.derivation} (${d.method}); not measured. ${ctx.mode === 'final' ? 'Final.' : 'Preliminary until a clinician confirms.'}`,
      },
    ],
  };
}

/** The run's plain-language summary, linked to its RiskAssessments and to the previous run's impression. */
export function clinicalImpression(
  output: ModelOutput,
  riskRefs: Reference<RiskAssessment>[],
  ctx: MappingContext,
): ClinicalImpression {
  return {
    resourceType: 'ClinicalImpression',
    meta: meta(ctx.key, PROFILE.clinicalImpression),
    identifier: [{ system: ASSESSMENT_ID_SYSTEM, value: `${ctx.key}-impression` }],
    status: ctx.mode === 'final' ? 'completed' : 'in-progress',
    code: {
      coding: [{ system: MODEL_CODE_SYSTEM, code: output.modelId, display: ctx.modelTitle }],
      text: 'AI risk assessment summary',
    },
    description: `Generated by ${output.modelId} ${output.modelVersion} (AI). Requires clinician review.`,
    subject: { reference: `Patient/${ctx.patientId}` },
    effectiveDateTime: ctx.asOf.toISOString(),
    date: ctx.now.toISOString(),
    previous: ctx.previous,
    summary: output.summary,
    prognosisReference: riskRefs.length ? riskRefs : undefined,
    supportingInfo: output.basis.length ? output.basis : undefined,
    finding: output.missing.length ? output.missing.map(finding) : undefined,
  };
}

/**
 * One input a calculator could not use. A stale one says when it was last measured and what it was (never "no
 * total cholesterol" when an old one exists), and references the resource that holds it.
 */
function finding(m: ModelOutput['missing'][number]): ClinicalImpressionFinding {
  const last = m.last;
  const text =
    m.reason === 'stale' && last
      ? `${m.calculator}: ${m.name} stale, last measured ${last.effective}`
      : `${m.calculator}: ${m.name} ${m.reason}`;
  return {
    itemCodeableConcept: { text },
    ...(last && { itemReference: { reference: last.source } }),
    basis: m.detail ?? `${m.name} was ${m.reason}; the calculator did not guess it`,
  };
}

/** AI Transparency AI-Provenance: author = model Device (role AI), assembler = this service, inputs as sources. */
export function provenance(targets: Reference[], output: ModelOutput, ctx: MappingContext): Provenance {
  return {
    resourceType: 'Provenance',
    meta: meta(ctx.key, PROFILE.provenance),
    target: targets,
    occurredDateTime: ctx.now.toISOString(),
    recorded: ctx.now.toISOString(),
    reason: [{ coding: [AIAST] }],
    activity: ACTIVITY_CREATE,
    agent: [
      { type: PROVENANCE_AUTHOR, role: [AI_DEVICE_TYPE], who: ctx.modelDevice },
      { type: PROVENANCE_ASSEMBLER, who: ctx.serviceDevice },
    ],
    entity: output.basis.length ? output.basis.map((what) => ({ role: 'source', what })) : undefined,
  };
}

function uniqueRefs(refs: (string | undefined)[]): Reference[] | undefined {
  const unique = [...new Set(refs.filter((r): r is string => !!r))];
  return unique.length ? unique.map((reference) => ({ reference })) : undefined;
}
