import type { Bundle } from '@medplum/fhirtypes';
import {
  EGFR_ANY,
  EGFR_CKD_EPI_2021,
  EGFR_CKD_EPI_UNSTATED,
  EGFR_MDRD,
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
  /** How the value was obtained (computed, or reported and under which code), for `InputUsed.derivation`. */
  derivation?: string;
  /** A reservation a clinician should read next to the result (e.g. the lab did not state the equation). */
  caveat?: string;
}

export interface EgfrOptions {
  age: number;
  sex: 'male' | 'female';
  /** Years: creatinine and reported eGFR older than this are stale. */
  maxAgeYears: number;
  /**
   * Reported eGFRs accepted when there is no usable creatinine: CKD-EPI only (PREVENT: 98979-8, else 62238-1 with
   * the caveat that the version is not stated; MDRD is refused with the reason), or any method (KFRE).
   */
  reported: 'ckd-epi' | 'any';
}

/** The caveat of a 62238-1 eGFR, stated wherever it is used. */
export const UNSTATED_CKD_EPI_CAVEAT =
  'the lab reported it as CKD-EPI (LOINC 62238-1) without stating the equation version (2009, or the race-free ' +
  '2021 equation the model was derived with)';

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
  const reported = opts.reported === 'any' ? reportedAny(bundle, asOf, window) : reportedCkdEpi(bundle, asOf, window);
  if (reported.value.ok) return { ...reported, value: { ...reported.value, name } };
  const why = scr.ok
    ? `creatinine ${scr.value} mg/dL (${scr.source}) is outside ${lo}–${hi}`
    : `creatinine: ${scr.detail}`;
  // Stale wins over missing: an old creatinine is worth a clinician's attention more than "none".
  const reason = scr.ok ? 'out-of-range' : scr.reason === 'stale' ? 'stale' : reported.value.reason;
  const last = !scr.ok && scr.reason === 'stale' ? scr.last : !reported.value.ok ? reported.value.last : undefined;
  return { value: { ok: false, name, reason, detail: `${why}; ${reported.value.detail}`, ...(last && { last }) } };
}

type Window = { years: number };

function reportedAny(bundle: Bundle, asOf: Date, window: Window): DerivedEgfr {
  const value = latestObservationValue(bundle, withMaxAge(EGFR_ANY, window), asOf);
  return { value, derivation: `reported by the lab (LOINC ${EGFR_ANY.codes.join(' or ')}), not recomputed` };
}

/**
 * A reported CKD-EPI eGFR: 98979-8 (2021) when present, else 62238-1 (version not stated) with its caveat. An
 * MDRD value is never used (the PREVENT equations were derived with CKD-EPI 2021), and the reason says so.
 */
function reportedCkdEpi(bundle: Bundle, asOf: Date, window: Window): DerivedEgfr {
  const stated = latestObservationValue(bundle, withMaxAge(EGFR_CKD_EPI_2021, window), asOf);
  if (stated.ok) return { value: stated, derivation: 'reported by the lab as CKD-EPI 2021 (LOINC 98979-8)' };
  const unstated = latestObservationValue(bundle, withMaxAge(EGFR_CKD_EPI_UNSTATED, window), asOf);
  if (unstated.ok) {
    return {
      value: unstated,
      derivation: `reported by the lab as CKD-EPI (LOINC 62238-1, ${unstated.source}); equation version not stated`,
      caveat: UNSTATED_CKD_EPI_CAVEAT,
    };
  }
  const mdrd = latestObservationValue(bundle, EGFR_MDRD, asOf);
  const mdrdNote = mdrd.ok
    ? `; the MDRD eGFR ${mdrd.value.toFixed(0)} (${mdrd.source}, ${mdrd.effective}) is not used: the model was derived with CKD-EPI eGFR`
    : '';
  const stale = [stated, unstated].find((v) => !v.ok && v.reason === 'stale');
  const base = stale && !stale.ok ? stale : stated;
  const detail = `${stated.ok ? '' : stated.detail}; ${unstated.ok ? '' : unstated.detail}${mdrdNote}`;
  const last = base.ok ? undefined : base.last;
  return {
    value: { ok: false, name: base.name, reason: base.ok ? 'missing' : base.reason, detail, ...(last && { last }) },
  };
}
