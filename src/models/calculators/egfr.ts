import type { Bundle } from '@medplum/fhirtypes';
import {
  EGFR_ANY,
  EGFR_CKD_EPI_2021,
  latestObservationValue,
  type ObservationValue,
  SERUM_CREATININE,
  withMaxAge,
} from '../fhir-inputs/index.js';

/**
 * CKD-EPI 2021 creatinine equation, race-free (Inker LA et al., NEJM 2021;385:1737–49):
 * eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 [female];
 * κ 0.7 (F) / 0.9 (M), α −0.241 (F) / −0.302 (M). As in preventr `R/helpers.R`.
 * @param creatinineMgDl - serum creatinine, mg/dL (µmol/L ÷ 88.4)
 * @param age - years (adults ≥ 18)
 * @returns eGFR in mL/min/1.73 m2
 */
export function ckdEpi2021(creatinineMgDl: number, age: number, sex: 'male' | 'female'): number {
  const female = sex === 'female';
  const kappa = female ? 0.7 : 0.9;
  const alpha = female ? -0.241 : -0.302;
  const ratio = creatinineMgDl / kappa;
  return 142 * Math.min(ratio, 1) ** alpha * Math.max(ratio, 1) ** -1.2 * 0.9938 ** age * (female ? 1.012 : 1);
}

/** Plausible serum creatinine for the equation, mg/dL (a sanity bound, not from the paper). */
export const CREATININE_RANGE_MG_DL = [0.1, 20] as const;

/** An eGFR ready for a calculator: the value (with its source) and how it was obtained. */
export interface DerivedEgfr {
  value: ObservationValue;
  /** Set when computed from creatinine, for `InputUsed.derivation`. */
  derivation?: string;
}

export interface EgfrOptions {
  age: number;
  sex: 'male' | 'female';
  /** Years: creatinine and reported eGFR older than this are stale. */
  maxAgeYears: number;
  /** Reported eGFRs accepted when there is no creatinine: CKD-EPI 2021 only (PREVENT), or any method (KFRE). */
  reported: 'ckd-epi-2021' | 'any';
}

/**
 * The eGFR a calculator should use at `asOf`: CKD-EPI 2021 computed from the newest serum creatinine
 * (2160-0, 38483-4, 14682-9) in the window; else a reported eGFR of an accepted method; else why not.
 * Computing is preferred because a lab's reported eGFR may use another equation (Synthea's 33914-3 is MDRD and
 * not consistent with its creatinine, risk-models.md §2).
 */
export function deriveEgfr(bundle: Bundle, asOf: Date, opts: EgfrOptions): DerivedEgfr {
  const name = 'eGFR';
  const window = { years: opts.maxAgeYears };
  const scr = latestObservationValue(bundle, withMaxAge(SERUM_CREATININE, window), asOf);
  const [lo, hi] = CREATININE_RANGE_MG_DL;
  if (scr.ok && scr.value >= lo && scr.value <= hi) {
    const egfr = ckdEpi2021(scr.value, opts.age, opts.sex);
    return {
      value: { ...scr, name, value: egfr, unit: 'mL/min/{1.73_m2}' },
      derivation: `CKD-EPI 2021 from serum creatinine ${scr.value.toFixed(2)} mg/dL (${scr.source}), age ${opts.age}, ${opts.sex}`,
    };
  }
  const spec = opts.reported === 'any' ? EGFR_ANY : EGFR_CKD_EPI_2021;
  const reported = latestObservationValue(bundle, withMaxAge(spec, window), asOf);
  if (reported.ok)
    return {
      value: { ...reported, name },
      derivation: `reported by the lab (LOINC ${spec.codes.join(' or ')}), not recomputed`,
    };
  const why = scr.ok
    ? `creatinine ${scr.value} mg/dL (${scr.source}) is outside ${lo}–${hi}`
    : `creatinine: ${scr.detail}`;
  return {
    value: { ok: false, name, reason: scr.ok ? 'out-of-range' : scr.reason, detail: `${why}; ${reported.detail}` },
  };
}
