import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../paths.js';

/**
 * The AHA PREVENT coefficient tables (Khan SS et al., Circulation 2024;149:430–449, Supplemental Table S12),
 * as shipped in `data/prevent/*.csv` (extracted from the preventr R package v0.12.0). Read once, lazily,
 * relative to the package root so the built CLI and the Docker image find them.
 */

/** Model terms, in the order of the CSV rows (the 30-year tables add `ageSquared`). */
export const PREVENT_TERMS = [
  'age',
  'ageSquared',
  'nonHdl',
  'hdl',
  'sbpBelow110',
  'sbpAbove110',
  'diabetes',
  'smoking',
  'bmiBelow30',
  'bmiAbove30',
  'egfrBelow60',
  'egfrAbove60',
  'bpTreated',
  'statin',
  'treatedSbpAbove110',
  'treatedNonHdl',
  'ageNonHdl',
  'ageHdl',
  'ageSbpAbove110',
  'ageDiabetes',
  'ageSmoking',
  'ageBmiAbove30',
  'ageEgfrBelow60',
  // Optional-variable terms of the UACR, HbA1c, SDI and full models (absent from the base files, so 0 there).
  'sdi4to6',
  'sdi7to10',
  'sdiMissing',
  'lnUacr',
  'uacrMissing',
  'hba1cDiabetes',
  'hba1cNoDiabetes',
  'hba1cMissing',
  'constant',
] as const;
export type PreventTerm = (typeof PREVENT_TERMS)[number];
export type PreventCoefficients = Record<PreventTerm, number>;

/** CSV row label → term. Labels differ slightly between the 10- and 30-year files ("Age, 10 years"). */
const LABELS: Record<string, PreventTerm> = {
  'Age, per 10 years': 'age',
  'Age, 10 years': 'age',
  'Age squared': 'ageSquared',
  'non-HDL-C per 1 mmol/L': 'nonHdl',
  'HDL-C per 0.3 mmol/L': 'hdl',
  'SBP <110 per 20 mmHg': 'sbpBelow110',
  'SBP ≥110 per 20 mmHg': 'sbpAbove110',
  Diabetes: 'diabetes',
  'Current smoking': 'smoking',
  'BMI <30, per 5 kg/m2': 'bmiBelow30',
  'BMI 30+, per 5 kg/m2': 'bmiAbove30',
  'eGFR <60, per -15 ml': 'egfrBelow60',
  'eGFR 60+, per -15 ml': 'egfrAbove60',
  'Anti-hypertensive use': 'bpTreated',
  'Statin use': 'statin',
  'Treated SBP ≥110 mm Hg per 20 mm Hg': 'treatedSbpAbove110',
  'Treated non-HDL-C': 'treatedNonHdl',
  'Age per 10yr * non-HDL-C per 1 mmol/L': 'ageNonHdl',
  'Age per 10yr * HDL-C per 0.3 mmol/L': 'ageHdl',
  'Age per 10yr * SBP ≥110 mm Hg per 20 mmHg': 'ageSbpAbove110',
  'Age per 10yr * diabetes': 'ageDiabetes',
  'Age per 10yr * current smoking': 'ageSmoking',
  'Age per 10yr * BMI 30+ per 5 kg/m2': 'ageBmiAbove30',
  'Age per 10yr * eGFR <60, per -15 ml': 'ageEgfrBelow60',
  'SDI decile categories 4-6 vs. 1-3': 'sdi4to6',
  'SDI decile categories 7-10 vs. 1-3': 'sdi7to10',
  'Missing SDI': 'sdiMissing',
  'ln-ACR, mg/g, per 1 ln unit': 'lnUacr',
  'Missing ACR/PCR/Dipstick': 'uacrMissing',
  'HbA1c in DM, per 1%': 'hba1cDiabetes',
  'HbA1c no DM, per 1%': 'hba1cNoDiabetes',
  'Missing HbA1c': 'hba1cMissing',
  Constant: 'constant',
};

export type PreventOutcome = 'total_cvd' | 'ascvd' | 'heart_failure' | 'chd' | 'stroke';
export type PreventHorizon = 10 | 30;
/**
 * The five model types of Khan 2024: base, base + one optional predictor (UACR, HbA1c, SDI), and the full model
 * with all three (each with a "missing" indicator, so it runs with one of them absent).
 */
export const PREVENT_VARIANTS = ['base', 'uacr', 'hba1c', 'sdi', 'full'] as const;
export type PreventVariant = (typeof PREVENT_VARIANTS)[number];
/** Columns: `${sex}_${outcome}`, e.g. `female_total_cvd`. */
export type PreventTable = Record<string, PreventCoefficients>;

/** Splits one CSV line, honouring double-quoted fields (row labels contain commas). */
function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}

/**
 * Parses one coefficient CSV into columns of named terms; terms a file lacks (age² in 10-year files) are 0.
 * @throws Error naming the file and the row when a label is unknown or a value is not a number
 */
export function parsePreventCsv(text: string, file: string): PreventTable {
  const [header, ...rows] = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  const columns = splitCsvLine(header).slice(1);
  const table: PreventTable = {};
  for (const col of columns) table[col] = Object.fromEntries(PREVENT_TERMS.map((t) => [t, 0])) as PreventCoefficients;
  for (const row of rows) {
    const [label, ...values] = splitCsvLine(row);
    const term = LABELS[label];
    if (!term) throw new Error(`${file}: unknown PREVENT term "${label}"`);
    values.forEach((v, i) => {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`${file}: "${label}" has a non-numeric value "${v}"`);
      table[columns[i]][term] = n;
    });
  }
  return table;
}

const cache = new Map<string, PreventTable>();

/** Directory of the shipped coefficient files. */
export const PREVENT_DATA_DIR = join(PROJECT_ROOT, 'data', 'prevent');

/** The base-model coefficients for one horizon (read from `data/prevent/` on first use). */
export function preventBaseTable(horizon: PreventHorizon): PreventTable {
  return preventTable('base', horizon);
}

/** The coefficients of one model type and horizon (`data/prevent/prevent_{variant}_{horizon}yr_coefficients.csv`). */
export function preventTable(variant: PreventVariant, horizon: PreventHorizon): PreventTable {
  const file = join(PREVENT_DATA_DIR, `prevent_${variant}_${horizon}yr_coefficients.csv`);
  let table = cache.get(file);
  if (!table) {
    table = parsePreventCsv(readFileSync(file, 'utf8'), file);
    cache.set(file, table);
  }
  return table;
}
