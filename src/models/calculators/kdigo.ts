import type { QualitativeRisk } from '../model.js';

/**
 * KDIGO 2012 CKD guideline (Kidney Int Suppl 2013;3:1–150), GFR categories G1–G5, albuminuria categories
 * A1–A3 and the prognosis "heat map" (Figure 2): risk of adverse kidney and cardiovascular outcomes.
 * Ranges as in docs/risk-models.md §3.
 */

export type GfrCategory = 'G1' | 'G2' | 'G3a' | 'G3b' | 'G4' | 'G5';
export type AlbuminuriaCategory = 'A1' | 'A2' | 'A3';
/** The heat map's four colours. */
export type KdigoRisk = 'low' | 'moderately increased' | 'high' | 'very high';

/** GFR category of an eGFR in mL/min/1.73 m2. */
export function gfrCategory(egfr: number): { category: GfrCategory; range: string } {
  if (egfr >= 90) return { category: 'G1', range: '≥90' };
  if (egfr >= 60) return { category: 'G2', range: '60–89' };
  if (egfr >= 45) return { category: 'G3a', range: '45–59' };
  if (egfr >= 30) return { category: 'G3b', range: '30–44' };
  if (egfr >= 15) return { category: 'G4', range: '15–29' };
  return { category: 'G5', range: '<15' };
}

/** Albuminuria category of a urine ACR in mg/g: A1 < 30, A2 30–300, A3 > 300. */
export function albuminuriaCategory(acrMgPerG: number): { category: AlbuminuriaCategory; range: string } {
  if (acrMgPerG < 30) return { category: 'A1', range: '<30 mg/g' };
  if (acrMgPerG <= 300) return { category: 'A2', range: '30–300 mg/g' };
  return { category: 'A3', range: '>300 mg/g' };
}

/** Heat-map rows (G1…G5) × columns (A1, A2, A3). */
const HEAT_MAP: Record<GfrCategory, [KdigoRisk, KdigoRisk, KdigoRisk]> = {
  G1: ['low', 'moderately increased', 'high'],
  G2: ['low', 'moderately increased', 'high'],
  G3a: ['moderately increased', 'high', 'very high'],
  G3b: ['high', 'very high', 'very high'],
  G4: ['very high', 'very high', 'very high'],
  G5: ['very high', 'very high', 'very high'],
};

/** KDIGO prognosis for a G and A category (A1 when albuminuria is unknown: the lowest cell of the row). */
export function kdigoRisk(g: GfrCategory, a: AlbuminuriaCategory = 'A1'): KdigoRisk {
  return HEAT_MAP[g][Number(a.slice(1)) - 1];
}

/**
 * FHIR risk-probability code for a heat-map colour. The value set has no "very high", so both orange (high)
 * and red (very high) map to `high`; the colour stays in `category`.
 */
export function kdigoQualitative(risk: KdigoRisk): QualitativeRisk {
  if (risk === 'low') return 'low';
  return risk === 'moderately increased' ? 'moderate' : 'high';
}
