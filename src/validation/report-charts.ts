/**
 * The browser side of the validation charts, as one script string: it finds every
 * `<script type="application/json" data-chart>` block and draws it with Chart.js (the global `Chart`
 * from chart.umd.js, served locally). Used inline in the standalone HTML report and served by the
 * console at /console/assets/charts.js, so both draw the same plots from the same JSON.
 */
export const CHART_SCRIPT = `
(function () {
  function pct(v) { return (v * 100).toFixed(1) + ' %'; }
  var draw = {
    calibration: function (d) {
      var max = Math.max(0.05, Math.max.apply(null, d.groups.map(function (g) { return Math.max(g.predicted, g.observedHi); })));
      var bars = d.groups.map(function (g) { return { x: g.predicted, y: [g.observedLo, g.observedHi] }; });
      return {
        type: 'scatter',
        data: { datasets: [
          { type: 'line', label: 'perfect calibration', data: [{ x: 0, y: 0 }, { x: max, y: max }], borderColor: '#999', borderDash: [6, 4], pointRadius: 0 },
          { label: 'observed (Kaplan–Meier) vs mean predicted', data: d.groups.map(function (g) { return { x: g.predicted, y: g.observed, label: g.label, n: g.n, events: g.events }; }), backgroundColor: '#1f6fb2', pointRadius: 5 },
          { type: 'bar', label: '95 % interval of observed', data: bars, backgroundColor: 'rgba(31,111,178,0.25)', barThickness: 3 }
        ] },
        options: {
          animation: false,
          scales: {
            x: { type: 'linear', min: 0, max: max, title: { display: true, text: 'mean predicted risk' }, ticks: { callback: pct } },
            y: { min: 0, max: max, title: { display: true, text: 'observed risk' }, ticks: { callback: pct } }
          },
          plugins: { tooltip: { callbacks: { label: function (c) { var r = c.raw; return r.label ? r.label + ': predicted ' + pct(r.x) + ', observed ' + pct(r.y) + ' (n ' + r.n + ', events ' + r.events + ')' : ''; } } } }
        }
      };
    },
    distribution: function (d) {
      var labels = d.withEvent.map(function (_, i) { return pct(d.edges[i]) + '–' + pct(d.edges[i + 1]); });
      return {
        type: 'bar',
        data: { labels: labels, datasets: [
          { label: 'outcome by the horizon', data: d.withEvent, backgroundColor: '#c0392b' },
          { label: 'no outcome (or censored)', data: d.withoutEvent, backgroundColor: '#95a5a6' }
        ] },
        options: { animation: false, scales: { x: { stacked: true, title: { display: true, text: 'predicted risk' } }, y: { stacked: true, title: { display: true, text: 'patients' } } } }
      };
    },
    lines: function (d) {
      var colours = ['#1f6fb2', '#c0392b', '#27ae60', '#8e44ad', '#d35400', '#16a085', '#2c3e50', '#f39c12'];
      return {
        type: 'line',
        data: { labels: d.labels, datasets: d.series.map(function (s, i) { return { label: s.label, data: s.values, borderColor: colours[i % colours.length], backgroundColor: colours[i % colours.length], spanGaps: true }; }).concat(d.threshold === undefined ? [] : [{ label: 'alert threshold', data: d.labels.map(function () { return d.threshold; }), borderColor: '#999', borderDash: [6, 4], pointRadius: 0 }]) },
        options: { animation: false, scales: { y: { beginAtZero: true, title: { display: !!d.yTitle, text: d.yTitle || '' } } } }
      };
    },
    bars: function (d) {
      var colours = ['#1f6fb2', '#c0392b', '#27ae60', '#8e44ad', '#d35400', '#16a085'];
      return {
        type: 'bar',
        data: { labels: d.labels, datasets: d.series.map(function (s, i) { return { label: s.label, data: s.values, backgroundColor: colours[i % colours.length] }; }) },
        options: { animation: false, scales: { x: { stacked: !!d.stacked }, y: { stacked: !!d.stacked, beginAtZero: true } } }
      };
    }
  };
  document.querySelectorAll('script[data-chart]').forEach(function (el) {
    var spec = JSON.parse(el.textContent);
    var canvas = document.getElementById(el.getAttribute('data-chart'));
    if (!canvas || !window.Chart || !draw[spec.kind]) return;
    new window.Chart(canvas, draw[spec.kind](spec));
    canvas.setAttribute('data-drawn', 'true');
  });
})();
`;
