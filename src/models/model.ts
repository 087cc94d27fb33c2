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
  /** Why the record was cut short, in one sentence (set when `truncated`). */
  truncatedReason?: string;
  /** True for a de-identified copy (src/record/deidentify.ts): no names, identifiers, real ids or real dates. */
  deidentified?: boolean;
}

export interface ModelContext {
  /** The date the assessment is "as of": ages and recency windows are computed relative to it. */
  asOf: Date;
}

/**
 * A value computed from other observations, as a lab would report it (e.g. eGFR from a creatinine): written back
 * as a derived Observation, once per `key`.
 */
export interface DerivedValue {
  /** LOINC code and its display, e.g. 98979-8. */
  code: { code: string; display: string; text: string };
  value: number;
  /** UCUM unit. */
  unit: string;
  /** When the source measurement was made: the derived value's effective time. */
  effective: string;
  /** `Type/id` of the resources it was computed from. */
  derivedFrom: string[];
  /** The equation, e.g. "CKD-EPI 2021 creatinine equation, race-free (Inker 2021)". */
  method: string;
  /** How it was computed from what, for the Observation's note. */
  derivation: string;
  /** Same inputs, same key: the write-back creates the Observation once (conditional create on it). */
  key: string;
}

/** One input value a prediction used, with where it came from. */
export interface InputUsed {
  name: string;
  value: string | number | boolean;
  unit?: string;
  /** `Type/id` of the resource the value came from, when there is one. */
  source?: string;
  effective?: string;
  /** How a derived value was obtained, e.g. "CKD-EPI 2021 from serum creatinine 1.1 mg/dL". */
  derivation?: string;
}

/** One input a prediction needed but could not use (absent, stale or out of range). */
export interface InputMissing {
  name: string;
  reason: 'missing' | 'stale' | 'out-of-range' | 'not-applicable';
  detail?: string;
  /** For a stale or out-of-range input: the newest value found, which the calculator did not use. */
  last?: LastValue;
}

/** A recorded value that was found but not used (too old, or outside the equation's range). */
export interface LastValue {
  /** Numeric value in the calculator's unit, or a coded value's display (smoking status). */
  value: number | string;
  unit?: string;
  /** `YYYY-MM-DD` (or an instant for acute vital signs). */
  effective: string;
  /** `Type/id` of the resource holding it. */
  source: string;
}

export type QualitativeRisk = 'negligible' | 'low' | 'moderate' | 'high' | 'certain';

export interface Prediction {
  /**
   * Calculator id, e.g. `pce-2013`; unique within one ModelOutput. A calculator that makes several predictions
   * suffixes its id per outcome and horizon (e.g. `prevent-10y-ascvd`), and names itself in `group`.
   */
  calculator: string;
  /** Id of the calculator that made this prediction when it made several (e.g. `prevent`). */
  group?: string;
  /** The variant of the calculator that ran (e.g. PREVENT `full`) and why: which inputs chose it. */
  variant?: { id: string; reason: string };
  /** The published method and variant used, with citation (e.g. which stroke-rate table). */
  method?: string;
  outcome: CodeableConcept;
  /** Probability on the 0–1 scale (see README: we document 0–1 and also state the percentage in `rationale`). */
  probability?: number;
  qualitativeRisk?: QualitativeRisk;
  /** Horizon in years from the as-of date. */
  horizonYears?: number;
  /** A raw score for points-based calculators (or a derived value such as eGFR, with `scoreUnit`). */
  score?: number;
  /** UCUM unit of `score` when it is a measurement-like value (e.g. `mL/min/{1.73_m2}`); absent for points. */
  scoreUnit?: string;
  rationale: string;
  /** Values the calculator computed that are written back as Observations of their own (e.g. eGFR). */
  derived?: DerivedValue[];
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
  /** Tokens (and cost) a hosted model spent on this output, for budgets and metrics. */
  usage?: ModelUsage;
}

/** What one hosted-model call cost. */
export interface ModelUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Estimated from the configured per-token prices, when set. */
  costUsd?: number;
}

export interface DataRequirement {
  resourceTypes: string[];
  /** Observations, encounters, procedures... older than this many years are left out. */
  lookbackYears?: number;
  /** Most resources the model can use; the record is truncated (newest kept) beyond it. */
  maxResources?: number;
  /** Observation categories it reads (e.g. `laboratory`, `vital-signs`); absent reads every category. */
  observationCategories?: string[];
  /**
   * LOINC codes whose newest Observation the model needs whatever its date, beyond `lookbackYears`: without it
   * a value older than the window would look missing, when the model must report it as stale, with its date.
   */
  latestObservationCodes?: string[];
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
