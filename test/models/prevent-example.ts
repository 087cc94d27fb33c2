import type { PreventInputs } from '../../src/models/calculators/prevent-equations.js';

/**
 * preventr's example A (Mayer M, preventr, tests/testthat/test-prevent_equations.R and the README; the defaults of
 * `estimate_risk_partial()` in R/helpers_test.R; risk-models.md §1b): 50-year-old female, SBP 160 on BP
 * treatment, TC 200, HDL 45 mg/dL, no statin, diabetes, non-smoker, eGFR 90, BMI 35.
 */
export const EXAMPLE_A: PreventInputs = {
  age: 50,
  sex: 'female',
  systolicBp: 160,
  bpTreated: true,
  totalCholesterol: 200,
  hdl: 45,
  statin: false,
  diabetes: true,
  currentSmoker: false,
  egfr: 90,
  bmi: 35,
};
