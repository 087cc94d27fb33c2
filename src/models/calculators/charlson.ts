import type { Calculator, CalculatorResult } from '../calculator.js';
import {
  activeConditions,
  CHARLSON_CATEGORIES,
  type CharlsonCategory,
  everConditions,
  yearsBefore,
} from '../fhir-inputs/index.js';
import { formatPercent } from '../format.js';
import type { ModelContext, PatientRecord, Prediction, QualitativeRisk } from '../model.js';
import { InputCollector } from './collect.js';
import { OUTCOMES } from './outcomes.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';

/**
 * Age-adjusted Charlson Comorbidity Index (Charlson ME et al., J Chronic Dis 1987;40:373–83; combined
 * age–comorbidity score, Charlson M et al., J Clin Epidemiol 1994;47:1245–51) with the 10-year survival
 * 0.983^(e^(0.9 × CCI)) as used by MDCalc, CCI including the age points. Reported as 10-year mortality.
 */
export const CHARLSON_CALCULATOR_ID = 'charlson-age-adjusted';

/** Malignancies count when active or diagnosed within this many years (Charlson 1987). */
const MALIGNANCY_YEARS = 5;

/** Age points: <50 → 0, 50–59 → 1, 60–69 → 2, 70–79 → 3, ≥80 → 4. */
export function charlsonAgePoints(age: number): number {
  if (age < 50) return 0;
  return Math.min(4, Math.floor((age - 40) / 10));
}

/** Estimated 10-year survival for an (age-adjusted) CCI: 0.983^(e^(0.9 × CCI)). */
export function charlsonTenYearSurvival(cci: number): number {
  return 0.983 ** Math.exp(0.9 * cci);
}

/**
 * qualitativeRisk of the 10-year mortality (fhir-assess convention; Charlson gives no bands for the age-adjusted
 * index): <10 % low (CCI 0–1), 10–<50 % moderate (CCI 2–4), ≥50 % high (CCI ≥5).
 */
export function charlsonCategory(mortality: number): { category: string; qualitativeRisk: QualitativeRisk } {
  if (mortality < 0.1) return { category: 'low 10-year mortality (<10 %)', qualitativeRisk: 'low' };
  if (mortality < 0.5) return { category: 'moderate 10-year mortality (10–<50 %)', qualitativeRisk: 'moderate' };
  return { category: 'high 10-year mortality (≥50 %)', qualitativeRisk: 'high' };
}

/** The categories present by as-of, each disease in its highest tier only. */
function presentCategories(c: InputCollector): CharlsonCategory[] {
  const malignancySince = yearsBefore(c.asOf, MALIGNANCY_YEARS).toISOString().slice(0, 10);
  const found = new Map<string, CharlsonCategory>();
  for (const cat of CHARLSON_CATEGORIES) {
    let matches = everConditions(c.bundle, cat, c.asOf);
    if (cat.malignancy) {
      const active = new Set(activeConditions(c.bundle, cat, c.asOf).map((m) => m.source));
      matches = matches.filter((m) => active.has(m.source) || (m.onset !== undefined && m.onset >= malignancySince));
    }
    if (matches.length === 0) continue;
    found.set(cat.key, cat);
    c.use({ name: `${cat.name} (${cat.points})`, value: true, source: matches[0].source, effective: matches[0].onset });
    for (const m of matches) c.basis.add(m.source);
  }
  for (const cat of found.values()) if (cat.supersedes) found.delete(cat.supersedes);
  return [...found.values()];
}

function computeCharlson(record: PatientRecord, { asOf }: ModelContext): CalculatorResult {
  const c = new InputCollector(record, asOf);
  const d = c.demographics();
  const age = d ? c.age(d, [18, 120]) : undefined;
  if (age === undefined) return c.result([]);
  const present = presentCategories(c);
  const comorbidity = present.reduce((sum, cat) => sum + cat.points, 0);
  const agePoints = charlsonAgePoints(age);
  const cci = comorbidity + agePoints;
  const survival = charlsonTenYearSurvival(cci);
  const mortality = 1 - survival;
  const cat = charlsonCategory(mortality);
  const items = present.map((p) => `${p.name} ${p.points}`);
  const prediction: Prediction = {
    calculator: CHARLSON_CALCULATOR_ID,
    outcome: OUTCOMES.death,
    probability: mortality,
    qualitativeRisk: cat.qualitativeRisk,
    horizonYears: 10,
    score: cci,
    category: `CCI ${cci}, ${cat.category}`,
    method:
      'Age-adjusted Charlson Comorbidity Index (Charlson 1987/1994; ICD-10 per Quan 2005); 10-year survival 0.983^(e^(0.9×CCI)) with age points included, as MDCalc',
    rationale: `Age-adjusted CCI ${cci} (${[...items, `age ${age} y ${agePoints}`].join(', ')}); estimated 10-year survival ${formatPercent(survival, 1)}, so 10-year mortality ${formatPercent(mortality, 1)}.`,
    inputsUsed: c.used,
  };
  return c.result([prediction]);
}

/** Age-adjusted Charlson index with 10-year mortality (probability = 1 − 10-year survival). */
export function createCharlsonCalculator(_params: CalculatorParams = DEFAULT_PARAMS): Calculator {
  return {
    id: CHARLSON_CALCULATOR_ID,
    title: 'Age-adjusted Charlson Comorbidity Index',
    compute: computeCharlson,
  };
}
