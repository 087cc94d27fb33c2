import { it } from 'vitest';
import { preventRisk } from '../../src/models/calculators/prevent-equations.js';
import { ckdEpi2021 } from '../../src/models/calculators/egfr.js';
it('scratch', () => {
  const i = { age: 50, sex: 'female' as const, totalCholesterol: 200, hdl: 45, systolicBp: 160, diabetes: true, currentSmoker: false, bmi: 35, egfr: 90, bpTreated: true, statin: false };
  for (const h of [10, 30] as const) console.log(h, ['total_cvd','ascvd','heart_failure','chd','stroke'].map((o) => preventRisk(i, o as never, h).toFixed(4)).join(' '));
  console.log(ckdEpi2021(1.5, 43, 'female'), ckdEpi2021(88/88.4, 43, 'male'));
});
