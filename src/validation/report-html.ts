import { esc, jsonScript, num, pct } from '../util/html.js';
import { chartJsSource } from './chart-library.js';
import type { MetricsWithIntervals, Subgroup, ValidationReport } from './report.js';
import { CHART_SCRIPT } from './report-charts.js';
import type { Interval } from './stats/bootstrap.js';
import type { RiskGroup } from './stats/risk-groups.js';

const ci = (i: Interval | undefined, digits = 2) => (i ? ` (${num(i.lo, digits)}–${num(i.hi, digits)})` : '');

function headline(m: MetricsWithIntervals): string {
  const rows: [string, string, string][] = [
    ['Observed / expected', `${num(m.oe)}${ci(m.intervals.oe)}`, '1 = right on average; <1 over-predicts'],
    [
      'Observed risk vs mean predicted',
      `${pct(m.observedRisk)}${m.intervals.observedRisk ? ` (${pct(m.intervals.observedRisk.lo)}–${pct(m.intervals.observedRisk.hi)})` : ''} vs ${pct(m.expectedRisk)}`,
      'Kaplan–Meier by the horizon',
    ],
    ['Calibration-in-the-large', `${num(m.citl)}${ci(m.intervals.citl)}`, '0 ideal; <0 over-predicts'],
    ['Calibration slope', `${num(m.slope)}${ci(m.intervals.slope)}`, '1 ideal; <1 predictions too extreme'],
    ['C-statistic (Uno)', `${num(m.cUno)}${ci(m.intervals.cUno)}`, '0.5 chance, 1 perfect ranking'],
    ['C-statistic (Harrell)', `${num(m.cHarrell)}${ci(m.intervals.cHarrell)}`, 'depends on censoring'],
    ['Brier score (IPCW)', `${num(m.brier, 4)}${ci(m.intervals.brier, 4)}`, 'lower is better'],
  ];
  return `<table class="metrics"><tbody>${rows
    .map(
      ([k, v, note]) =>
        `<tr><th>${esc(k)}</th><td data-metric="${esc(k)}">${esc(v)}</td><td class="note">${esc(note)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

function groupsTable(groups: RiskGroup[]): string {
  const body = groups
    .map(
      (g) =>
        `<tr><td>${esc(g.label)}</td><td>${g.n}</td><td>${g.events}</td><td>${pct(g.predicted)}</td><td>${pct(g.observed)} (${pct(g.observedLo)}–${pct(g.observedHi)})</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>group</th><th>patients</th><th>events</th><th>mean predicted</th><th>observed (95 % CI)</th></tr></thead><tbody>${body}</tbody></table>`;
}

function subgroupTable(title: string, groups: Subgroup[]): string {
  const body = groups
    .map(({ label, metrics: m }) => {
      const small = m.small ? ' <span class="small">small numbers</span>' : '';
      return `<tr><td>${esc(label)}${small}</td><td>${m.n}</td><td>${m.events}</td><td>${num(m.oe)}${ci(m.intervals.oe)}</td><td>${num(m.cUno)}${ci(m.intervals.cUno)}</td><td>${num(m.brier, 4)}</td></tr>`;
    })
    .join('');
  return `<h3>By ${esc(title)}</h3><table><thead><tr><th>${esc(title)}</th><th>assessed</th><th>events</th><th>O/E (95 % CI)</th><th>C (Uno)</th><th>Brier</th></tr></thead><tbody>${body}</tbody></table>`;
}

/**
 * The report as HTML sections (no page chrome): the console shows them in its layout, the
 * standalone report in its own document. Charts are canvases drawn by CHART_SCRIPT from JSON.
 */
export function reportSections(r: ValidationReport, idPrefix = 'r'): string {
  const c = r.counts;
  const primary = r.calibration.primary === 'decile' ? r.calibration.deciles : r.calibration.categories;
  const exclusions = c.exclusions.map((e) => `<tr><td>${esc(e.reason)}</td><td>${e.count}</td></tr>`).join('');
  const ends = Object.entries(c.followUpEnds)
    .map(([k, v]) => `${esc(k)} ${v}`)
    .join(', ');
  return `
<section class="summary">
  <p><strong>${esc(r.model.prediction)}</strong> of ${esc(r.model.id)} ${esc(r.model.version)} · outcome: ${esc(r.outcome.title)} within ${r.horizonYears} years of ${esc(r.asOf)} · population: ${esc(r.population.selection)} on ${esc(r.population.source)} · report <code>${esc(r.id)}</code></p>
  <p class="counts">Patients <b data-count="patients">${c.patients}</b> · assessed <b data-count="assessed">${c.assessed}</b> · excluded <b data-count="excluded">${c.excluded}</b> · events <b data-count="events">${c.events}</b> · censored before the horizon <b data-count="censored">${c.censored}</b></p>
  ${r.warnings.map((w) => `<p class="warning">${esc(w)}</p>`).join('')}
</section>
<section><h2>Performance</h2>${headline(r.overall)}</section>
<section class="charts">
  <div><h2>Calibration (${esc(r.calibration.why)})</h2><canvas id="${idPrefix}-calibration" width="520" height="380"></canvas>
  ${jsonScript(`data-chart="${idPrefix}-calibration"`, { kind: 'calibration', groups: primary })}</div>
  <div><h2>Distribution of predicted risk</h2><canvas id="${idPrefix}-distribution" width="520" height="380"></canvas>
  ${jsonScript(`data-chart="${idPrefix}-distribution"`, { kind: 'distribution', ...r.riskDistribution })}</div>
</section>
<section><h2>Calibration by ${r.calibration.primary === 'decile' ? 'decile' : 'risk category'}</h2>${groupsTable(primary)}
<details><summary>The other grouping</summary>${groupsTable(r.calibration.primary === 'decile' ? r.calibration.categories : r.calibration.deciles)}</details></section>
<section><h2>Subgroups</h2>${subgroupTable('sex', r.subgroups.sex)}${subgroupTable('age band', r.subgroups.ageBand)}</section>
<section><h2>Who was not counted, and why</h2><table><thead><tr><th>reason</th><th>patients</th></tr></thead><tbody>${exclusions || '<tr><td>none</td><td>0</td></tr>'}</tbody></table>
<p>Follow-up ended: ${ends || '–'}.</p></section>
<section><h2>Outcome and methods</h2><p>${esc(r.outcome.definition)}</p><ul>${Object.values(r.methods)
    .map((m) => `<li>${esc(m)}</li>`)
    .join('')}</ul></section>`;
}

/** Page styles shared by the standalone report and the console. */
export const PAGE_CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:16px 24px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.4em}h3{font-size:1rem}
table{border-collapse:collapse;margin:8px 0;background:#fff}th,td{border:1px solid #d7dce2;padding:4px 8px;text-align:left;font-size:.9rem;vertical-align:top}
td.note{color:#5c6773}.warning{background:#fff4e0;border-left:4px solid #e67e22;padding:6px 10px}
.small{background:#fdecea;color:#a93226;font-size:.75rem;padding:0 4px;border-radius:3px}
.charts{display:flex;flex-wrap:wrap;gap:24px}.charts>div{background:#fff;padding:8px 12px;border:1px solid #d7dce2}
code{font-size:.85rem}.counts b{font-size:1.05rem}`;

/** A self-contained HTML report: Chart.js and the chart script inlined, so it opens from disk anywhere. */
export function reportDocument(r: ValidationReport): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Validation ${esc(r.model.prediction)} ${esc(r.id)}</title>
<style>${PAGE_CSS}</style></head>
<body><main><h1>Validation of ${esc(r.model.prediction)} on this population</h1>
<p>Generated ${esc(r.createdAt)} by fhir-assess. Retrospective: each patient's record as it stood on ${esc(r.asOf)}, outcomes looked for afterwards in the same record.</p>
${reportSections(r)}
</main>
<script>${chartJsSource()}</script>
<script>${CHART_SCRIPT}</script>
</body></html>`;
}
