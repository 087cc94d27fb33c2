import type { AuditedPrediction, Queryable } from '../audit-trail.js';
import { cohensKappa } from './kappa.js';

/** The latest audited output of one version for one patient. */
export interface PatientOutput {
  patient: string;
  recordHash?: string;
  predictions: Map<string, AuditedPrediction>;
}

/** One calculator's agreement between the two versions over the patients both assessed. */
export interface CalculatorComparison {
  calculator: string;
  /** Patients for whom both versions made this prediction. */
  patients: number;
  /** Cohen's kappa over the risk categories (risk-probability codes); NaN when no pair has both. */
  kappa: number;
  meanAbsDiff?: number;
  maxAbsDiff?: number;
  /** Patients whose category differs between the versions: `Patient/id: a → b`. */
  changedCategory: string[];
  /** Input names by how many patients' predictions used them in one version only. */
  inputsOnlyA: Record<string, number>;
  inputsOnlyB: Record<string, number>;
}

export interface VersionComparison {
  a: string;
  b: string;
  /** Patients assessed by both / by one only. */
  common: number;
  onlyA: number;
  onlyB: number;
  /** Common patients whose latest outputs came from different records (a record change in between). */
  differentRecords: number;
  calculators: CalculatorComparison[];
}

/**
 * The latest inference per patient of one version, from the audit trail (live and shadow runs are both
 * recorded there, with values, categories and the names of the inputs used, and kept for years).
 */
export async function latestOutputs(q: Queryable, model: string, source?: string): Promise<Map<string, PatientOutput>> {
  const r = await q.query<{ body: string }>(
    `SELECT DISTINCT ON (patient) body FROM audit_events
     WHERE action = 'inference' AND model = $1 AND ($2::text IS NULL OR source = $2)
     ORDER BY patient, seq DESC`,
    [model, source ?? null],
  );
  const out = new Map<string, PatientOutput>();
  for (const row of r.rows) {
    const e = JSON.parse(row.body) as { patient: string; recordHash?: string; predictions?: AuditedPrediction[] };
    out.set(e.patient, {
      patient: e.patient,
      recordHash: e.recordHash,
      predictions: new Map((e.predictions ?? []).map((p) => [p.calculator, p])),
    });
  }
  return out;
}

/** Compares version A with version B on the patients both assessed, calculator by calculator. */
export function compareOutputs(
  a: string,
  b: string,
  outA: Map<string, PatientOutput>,
  outB: Map<string, PatientOutput>,
): VersionComparison {
  const common = [...outA.keys()].filter((p) => outB.has(p)).sort();
  const calculators = [...new Set(common.flatMap((p) => [...(outA.get(p)?.predictions.keys() ?? [])]))].sort();
  return {
    a,
    b,
    common: common.length,
    onlyA: outA.size - common.length,
    onlyB: [...outB.keys()].filter((p) => !outA.has(p)).length,
    differentRecords: common.filter((p) => outA.get(p)?.recordHash !== outB.get(p)?.recordHash).length,
    calculators: calculators.map((c) => compareCalculator(c, common, outA, outB)).filter((c) => c.patients > 0),
  };
}

function compareCalculator(
  calculator: string,
  patients: string[],
  outA: Map<string, PatientOutput>,
  outB: Map<string, PatientOutput>,
): CalculatorComparison {
  const categories: [string, string][] = [];
  const diffs: number[] = [];
  const changed: string[] = [];
  const onlyA: Record<string, number> = {};
  const onlyB: Record<string, number> = {};
  let n = 0;
  for (const patient of patients) {
    const pa = outA.get(patient)?.predictions.get(calculator);
    const pb = outB.get(patient)?.predictions.get(calculator);
    if (!pa || !pb) continue;
    n++;
    if (pa.risk && pb.risk) {
      categories.push([pa.risk, pb.risk]);
      if (pa.risk !== pb.risk) changed.push(`${patient}: ${pa.risk} → ${pb.risk}`);
    }
    if (pa.probability !== undefined && pb.probability !== undefined)
      diffs.push(Math.abs(pa.probability - pb.probability));
    for (const i of pa.inputs.filter((x) => !pb.inputs.includes(x))) onlyA[i] = (onlyA[i] ?? 0) + 1;
    for (const i of pb.inputs.filter((x) => !pa.inputs.includes(x))) onlyB[i] = (onlyB[i] ?? 0) + 1;
  }
  return {
    calculator,
    patients: n,
    kappa: cohensKappa(categories),
    meanAbsDiff: diffs.length ? diffs.reduce((s, d) => s + d, 0) / diffs.length : undefined,
    maxAbsDiff: diffs.length ? Math.max(...diffs) : undefined,
    changedCategory: changed,
    inputsOnlyA: onlyA,
    inputsOnlyB: onlyB,
  };
}
