import { esc, jsonScript, num, pct } from '../util/html.js';
import type { ValidationReport } from '../validation/report.js';
import { PAGE_CSS, reportSections } from '../validation/report-html.js';
import type { ModelView } from './models-data.js';
import type { OverviewData } from './overview-data.js';
import type { PatientExplanation } from './patient-data.js';
import type { AwaitingReview } from './review-data.js';

/** Where the console lives. */
export const CONSOLE_PATH = '/console';

const NAV: [string, string][] = [
  ['', 'Overview'],
  ['/models', 'Models'],
  ['/review', 'Review'],
  ['/patient', 'Patient'],
];

const CONSOLE_CSS = `${PAGE_CSS}
header{background:#1d2733;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cfe3f7;text-decoration:none}header a.here{color:#fff;font-weight:600;border-bottom:2px solid #fff}
.cards{display:flex;gap:16px;flex-wrap:wrap}.card{background:#fff;border:1px solid #d7dce2;padding:10px 16px;min-width:160px}
.card b{display:block;font-size:1.6rem}.ok{color:#1e8449}.bad{color:#a93226}.muted{color:#5c6773}`;

/** The page frame: navigation, styles, Chart.js and the chart script (both served locally). */
export function layout(title: string, here: string, body: string): string {
  const nav = NAV.map(
    ([path, label]) => `<a href="${CONSOLE_PATH}${path}"${path === here ? ' class="here"' : ''}>${label}</a>`,
  ).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · fhir-assess console</title>
<style>${CONSOLE_CSS}</style><script src="${CONSOLE_PATH}/assets/chart.umd.js"></script></head>
<body><header><strong>fhir-assess console</strong>${nav}</header><main><h1>${esc(title)}</h1>${body}</main>
<script src="${CONSOLE_PATH}/assets/charts.js"></script></body></html>`;
}

const table = (head: string[], rows: string[][], testid: string) =>
  `<table data-testid="${testid}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${
    rows.length
      ? rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')
      : `<tr><td colspan="${head.length}" class="muted">none</td></tr>`
  }</tbody></table>`;

export function overviewPage(d: OverviewData): string {
  const total = Object.values(d.perDay).reduce((a, s) => a + s.reduce((x, y) => x + y, 0), 0);
  const failed = d.queues.reduce((a, q) => a + q.failed, 0);
  const waiting = d.queues.reduce((a, q) => a + q.waiting, 0);
  const ehrOk = d.ehr.every((e) => e.status === 'ok');
  const cards = `<div class="cards">
<div class="card">assessments, last ${d.days.length} days<b data-testid="assessments-total">${total}</b></div>
<div class="card">failed jobs<b data-testid="failed-total" class="${failed ? 'bad' : 'ok'}">${failed}</b></div>
<div class="card">waiting jobs<b data-testid="waiting-total">${waiting}</b></div>
<div class="card">EHR<b data-testid="ehr-health" class="${ehrOk ? 'ok' : 'bad'}">${ehrOk ? 'reachable' : 'failing'}</b></div></div>`;
  const series = Object.entries(d.perDay).map(([label, values]) => ({ label: label.replace('|', ' · '), values }));
  const chart = `<h2>Assessments per day by model and mode</h2><div class="charts"><div><canvas id="per-day" width="900" height="300"></canvas>
${jsonScript('data-chart="per-day"', { kind: 'bars', labels: d.days, series, stacked: true })}</div></div>`;
  const queues = table(
    ['queue', 'waiting', 'active', 'delayed', 'failed', 'completed', 'oldest waiting'],
    d.queues.map((q) => [
      esc(q.name),
      String(q.waiting),
      String(q.active),
      String(q.delayed),
      `<span data-testid="failed-${esc(q.name)}">${q.failed}</span>`,
      String(q.completed),
      q.oldestWaitingS === undefined ? '–' : `${q.oldestWaitingS} s`,
    ]),
    'queues',
  );
  const ehr = table(
    ['source', 'metadata', 'ms'],
    d.ehr.map((e) => [
      esc(e.source),
      `<span class="${e.status === 'ok' ? 'ok' : 'bad'}">${esc(e.status)}</span>`,
      String(e.ms),
    ]),
    'ehr',
  );
  const subs = table(
    ['source', 'Subscriptions'],
    d.subscriptions.map((s) => [esc(s.source), esc(s.state)]),
    'subscriptions',
  );
  return layout(
    'Overview',
    '',
    `${cards}${chart}<h2>Queues (depth and lag)</h2>${queues}<h2>EHR health</h2>${ehr}<h2>Subscriptions</h2>${subs}`,
  );
}

function driftCharts(m: ModelView, threshold: number): string {
  return m.drift
    .map((d, i) => {
      const id = `drift-${esc(m.id)}-${i}`;
      const series = Object.entries(d.psi).map(([label, values]) => ({ label, values }));
      return `<h4>${esc(d.prediction)}: PSI per day against <a href="${CONSOLE_PATH}/models/reports/${esc(d.baselineReport)}">${esc(d.baselineReport)}</a></h4>
<canvas id="${id}" width="900" height="260"></canvas>${jsonScript(`data-chart="${id}"`, { kind: 'lines', labels: d.days, series, threshold, yTitle: 'PSI' })}`;
    })
    .join('');
}

function modelSection(m: ModelView, threshold: number): string {
  const history = table(
    ['version', 'mode', 'since', 'by / why', 'evidence'],
    m.history.map((h) => [
      esc(h.version),
      esc(h.mode),
      esc(h.at ?? 'start-up'),
      esc([h.by, h.reason].filter(Boolean).join(': ')),
      h.evidence ? `<a href="${CONSOLE_PATH}/models/reports/${esc(h.evidence)}">${esc(h.evidence)}</a>` : '–',
    ]),
    `history-${m.id}`,
  );
  const reports = table(
    ['report', 'version', 'prediction', 'as of', 'horizon', 'assessed', 'events', 'O/E', 'C (Uno)'],
    m.reports.map((r) => [
      `<a href="${CONSOLE_PATH}/models/reports/${esc(r.id)}">${esc(r.id)}</a>`,
      esc(r.modelVersion),
      esc(r.prediction),
      esc(r.asOf),
      `${r.horizonYears} y`,
      String(r.assessed),
      String(r.events),
      `<span data-testid="oe-${esc(r.id)}">${num(r.oe)}</span>`,
      num(r.cUno),
    ]),
    `reports-${m.id}`,
  );
  const shadow = m.shadow
    ? `<h3>Shadow vs live</h3>${table(
        ['patient', 'calculator', 'shadow run', 'shadow', 'live (current in the EHR)', 'difference'],
        m.shadow.map((s) => [
          `<a href="${CONSOLE_PATH}/patient?id=${esc(s.patientId)}">${esc(s.patientId)}</a>`,
          esc(s.calculator),
          esc(s.at),
          pct(s.shadow),
          pct(s.live),
          s.shadow !== undefined && s.live !== undefined ? `${((s.shadow - s.live) * 100).toFixed(1)} points` : '–',
        ]),
        `shadow-${m.id}`,
      )}`
    : '';
  return `<section data-testid="model-${esc(m.id)}"><h2>${esc(m.id)} <span class="muted">${esc(m.version)} · ${esc(m.title)}</span></h2>
<p>Mode now: <b data-testid="mode-${esc(m.id)}">${esc(m.mode)}</b></p><h3>History</h3>${history}
<h3>Validation reports</h3>${reports}<h3>Drift (threshold ${threshold})</h3>${m.drift.length ? driftCharts(m, threshold) : '<p class="muted">No baseline yet: store a validation report (fhir-assess validate with DATABASE_URL) for this version.</p>'}${shadow}</section>`;
}

export function modelsPage(models: ModelView[], threshold: number, reportsAvailable: boolean): string {
  const note = reportsAvailable
    ? ''
    : '<p class="warning">DATABASE_URL is not set: no validation reports or drift baselines to show.</p>';
  return layout('Models', '/models', `${note}${models.map((m) => modelSection(m, threshold)).join('')}`);
}

export function reportPage(r: ValidationReport): string {
  return layout(`Validation report ${r.id}`, '/models', reportSections(r));
}

export function reviewPage(items: AwaitingReview[]): string {
  const rows = items.map((r) => [
    `<a href="${CONSOLE_PATH}/patient?id=${esc(r.patientId)}">${esc(r.patientId)}</a>`,
    esc(r.calculator),
    `<span data-testid="review-probability-${esc(r.id)}">${pct(r.probability)}</span>`,
    esc(r.category ?? '–'),
    esc(r.model),
    esc(r.assessedAt ?? '–'),
    `RiskAssessment/${esc(r.id)}`,
  ]);
  return layout(
    'Review',
    '/review',
    `<p>Preliminary AI results that a clinician has not confirmed: <b data-testid="review-count">${items.length}</b>. Review decisions (confirmed, amended, rejected) will appear here once the governance work records them.</p>
${table(['patient', 'calculator', 'probability', 'category', 'model', 'assessed', 'in the EHR'], rows, 'review')}`,
  );
}

function inputRows(p: PatientExplanation['explanations'][number]['predictions'][number]): string[][] {
  return p.inputs.map((i) => [
    esc(p.calculator),
    esc(i.name),
    `${esc(i.value)}${i.unit ? ` ${esc(i.unit)}` : ''}`,
    esc(i.effective ?? '–'),
    esc(i.source ?? '–'),
    esc(i.derivation ?? ''),
  ]);
}

export function patientPage(id: string | undefined, data?: PatientExplanation, error?: string): string {
  const form = `<form method="get" action="${CONSOLE_PATH}/patient"><label>Patient id <input name="id" value="${esc(id ?? '')}" data-testid="patient-id"></label> <button type="submit">Show</button></form>`;
  if (error)
    return layout('Patient', '/patient', `${form}<p class="warning" data-testid="patient-error">${esc(error)}</p>`);
  if (!data) return layout('Patient', '/patient', form);
  const written = table(
    ['calculator', 'probability', 'category', 'status', 'assessed', 'model', 'resource'],
    data.written.map((w) => [
      esc(w.calculator),
      `<span data-testid="written-${esc(w.calculator)}">${pct(w.probability, 2)}</span>`,
      esc(w.category ?? '–'),
      esc(w.status),
      esc(w.assessedAt ?? '–'),
      esc(w.model),
      `RiskAssessment/${esc(w.id)}`,
    ]),
    'written',
  );
  const models = data.explanations
    .map((e) => {
      const same =
        e.matchesWritten === undefined
          ? 'Nothing written yet for this patient.'
          : e.matchesWritten
            ? 'The record is unchanged since the written assessment: these are exactly the inputs it used.'
            : 'The record has changed since the written assessment: these are the inputs of the current record.';
      const inputs = table(
        ['calculator', 'input', 'value', 'date', 'source', 'derivation'],
        e.predictions.flatMap(inputRows),
        `inputs-${e.modelId}`,
      );
      const missing = table(
        ['calculator', 'input', 'why', 'detail'],
        e.missing.map((m) => [esc(m.calculator), esc(m.name), `<b>${esc(m.reason)}</b>`, esc(m.detail ?? '')]),
        `missing-${e.modelId}`,
      );
      const excl = e.exclusions.map((x) => `<li>${esc(x.calculator)}: ${esc(x.reason)}</li>`).join('');
      return `<h2>${esc(e.modelId)} ${esc(e.version)} as of ${esc(e.asOf)}</h2><p data-testid="matches-written">${esc(same)}</p>
<h3>Every input used</h3>${inputs}<h3>Missing, stale or out-of-range inputs</h3>${missing}${excl ? `<h3>Not applicable</h3><ul>${excl}</ul>` : ''}`;
    })
    .join('');
  const hosted = data.notExplained.length
    ? `<p class="muted">Hosted models (${esc(data.notExplained.join(', '))}) are not re-run here.</p>`
    : '';
  return layout(
    `Patient/${data.patientId}`,
    '/patient',
    `${form}<h2>Current assessments (${esc(data.source)})</h2>${written}${models}${hosted}`,
  );
}
