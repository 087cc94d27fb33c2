import type { Bundle, CodeableConcept, Reference } from '@medplum/fhirtypes';

/** The assembled longitudinal record a model reads. */
export interface PatientRecord {
  patientId: string;
  /** `collection` Bundle: the Patient first, then every resource of the record. */
  bundle: Bundle;
  /** Canonical content hash (hex sha-256) of the clinically relevant content. */
  hash: string;
  /** True when a bound (resource count, lookback) cut the record short. */
  truncated: boolean;
}

export interface ModelContext {
  /** The date the assessment is "as of": ages and recency windows are computed relative to it. */
  asOf: Date;
}

/** One input value a prediction used, with where it came from. */
export interface InputUsed {
  name: string;
  value: string | number | boolean;
  unit?: string;
  /** `Type/id` of the resource the value came from, when there is one. */
  source?: string;
  effective?: string;
}

/** One input a prediction needed but could not use (absent, stale or out of range). */
export interface InputMissing {
  name: string;
  reason: 'missing' | 'stale' | 'out-of-range' | 'not-applicable';
  detail?: string;
}

export type QualitativeRisk = 'negligible' | 'low' | 'moderate' | 'high' | 'certain';

export interface Prediction {
  /** Calculator id, e.g. `pce-2013`. */
  calculator: string;
  outcome: CodeableConcept;
  /** Probability on the 0–1 scale (see README: we document 0–1 and also state the percentage in `rationale`). */
  probability?: number;
  qualitativeRisk?: QualitativeRisk;
  /** Horizon in years from the as-of date. */
  horizonYears?: number;
  /** A raw score for points-based calculators. */
  score?: number;
  rationale: string;
  /** Human-readable category, e.g. "borderline (5–7.4 %)". */
  category?: string;
  inputsUsed: InputUsed[];
}

export interface ApplicabilityExclusion {
  calculator: string;
  reason: string;
}

export interface ModelOutput {
  modelId: string;
  modelVersion: string;
  predictions: Prediction[];
  /** Inputs that were missing, stale or out of range, per calculator. */
  missing: (InputMissing & { calculator: string })[];
  exclusions: ApplicabilityExclusion[];
  summary: string;
  /** References (`Type/id`) to every input resource any prediction used. */
  basis: Reference[];
}

export interface DataRequirement {
  resourceTypes: string[];
  lookbackYears?: number;
}

/** Anything that turns a PatientRecord into a ModelOutput. */
export interface Model {
  readonly id: string;
  readonly version: string;
  readonly title: string;
  readonly requires: DataRequirement;
  /** False for models outside the trust boundary: they only ever see de-identified records. */
  readonly mayReceiveIdentifiedData: boolean;
  assess(record: PatientRecord, context: ModelContext): Promise<ModelOutput>;
}
