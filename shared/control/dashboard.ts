/**
 * `/dashboard`: per-model, per-variant plots of traffic share, error rate, p50/p99, accuracy and PSI
 * over time, rollout steps marked, from the capture and feedback records in the store. Chart.js is
 * served from node_modules (no CDN, no network); the page's own script is a separate file so the
 * content security policy can forbid inline scripts. `modelfleet monitor --html` writes the same
 * page as one self-contained file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BadRequestError, NotFoundError } from '../errors';
import { jsonResponse, type ServeRequest, type ServeResponse } from '../http/request';
import { MODEL_NAME_PATTERN } from '../repository/manifest';
import type { ModelRepository } from '../repository/repository';
import { buildReport, type MonitorReport, parseDuration } from './monitor-report';

export interface DashboardSettings {
  stage: string;
  psiThreshold: number;
}

const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

let chartScript: string | undefined;

/** Chart.js's UMD build from node_modules; undefined in packages built without it (cloud bundles). */
export function chartJsSource(): string | undefined {
  if (chartScript !== undefined) return chartScript;
  try {
    // The package's exports map does not name its UMD build; it sits next to the CommonJS one.
    chartScript = readFileSync(
      path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
      'utf8',
    );
  } catch {
    return undefined;
  }
  return chartScript;
}

export async function dashboardRoute(
  request: ServeRequest,
  repository: ModelRepository,
  settings: DashboardSettings,
): Promise<ServeResponse> {
  const route = request.path.replace(/\/+$/, '');
  if (route === '/dashboard/chart.js' || route === '/dashboard/app.js') {
    const body = route === '/dashboard/app.js' ? DASHBOARD_SCRIPT : chartJsSource();
    if (body === undefined)
      throw new NotFoundError('chart.js is not part of this package: use the local server');
    return { status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8' }, body };
  }
  if (route === '/dashboard/data') {
    const sinceText = request.query['since'] ?? '24h';
    const window = parseDuration(sinceText);
    if (window === undefined) {
      throw new BadRequestError(
        `since: expected a duration such as 30m, 24h or 7d, got ${JSON.stringify(sinceText)}`,
      );
    }
    const stage = request.query['stage'] ?? settings.stage;
    const only = request.query['model'];
    if (only !== undefined && (!MODEL_NAME_PATTERN.test(only) || only.includes('..'))) {
      throw new BadRequestError(`model: ${JSON.stringify(only)} is not a model name`);
    }
    const models = only === undefined ? await repository.listModels() : [only];
    const since = new Date(Date.now() - window);
    const reports = await Promise.all(
      models.map((model) =>
        buildReport(repository, model, { stage, since, psiThreshold: settings.psiThreshold }),
      ),
    );
    return jsonResponse(200, { stage, since: since.toISOString(), reports });
  }
  return {
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_POLICY },
    body: dashboardHtml({ scripts: ['/dashboard/chart.js', '/dashboard/app.js'] }),
  };
}

/** The page; with `inline` the data and both scripts are embedded (a file to open or mail). */
export function dashboardHtml(options: {
  scripts?: string[];
  inline?: { chartJs: string; reports: MonitorReport[] };
}) {
  const scripts =
    options.inline === undefined
      ? (options.scripts ?? []).map((src) => `<script src="${src}"></script>`).join('\n')
      : [
          `<script>${options.inline.chartJs.replace(/<\/script/gi, '<\\/script')}</script>`,
          `<script>window.MODELFLEET_REPORTS = ${JSON.stringify(options.inline.reports).replace(/</g, '\\u003c')};</script>`,
          `<script>${DASHBOARD_SCRIPT}</script>`,
        ].join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>modelfleet monitoring</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1c2430}
header{background:#1c2430;color:#fff;padding:12px 24px}header h1{font-size:18px;margin:0}
main{padding:16px 24px}section.model{background:#fff;border-radius:8px;padding:16px;margin-bottom:24px;box-shadow:0 1px 3px #0002}
table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 10px;border-bottom:1px solid #e3e6ea;text-align:right}th:first-child,td:first-child{text-align:left}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}.chart{height:220px;position:relative}
.drift{color:#b3261e;font-weight:600}.muted{color:#6b7785}ul.rollout{margin:4px 0;padding-left:18px}
</style></head>
<body><header><h1>modelfleet monitoring</h1><span id="window" class="muted"></span></header>
<main id="models"><p class="muted">loading…</p></main>
${scripts}
</body></html>
`;
}

/** Runs in the browser: renders `window.MODELFLEET_REPORTS` or fetches `/dashboard/data`. */
export const DASHBOARD_SCRIPT = `(function () {
  'use strict';
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
  var status = window.MODELFLEET_DASHBOARD = { charts: 0, points: 0, byMetric: {}, ready: false };
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function pct(x) { return (x * 100).toFixed(1) + '%'; }
  // Vertical lines at rollout steps: Chart.js has no annotations without a plugin, so draw them.
  var rolloutMarks = {
    id: 'rolloutMarks',
    afterDatasetsDraw: function (chart, args, opts) {
      var ctx = chart.ctx, area = chart.chartArea, x = chart.scales.x;
      // A chart with no points has no x scale to place marks on.
      if (!x || !area || chart.data.labels.length === 0) return;
      (opts.marks || []).forEach(function (mark) {
        var px = x.getPixelForValue(mark.index);
        ctx.save(); ctx.strokeStyle = '#555'; ctx.setLineDash([4, 3]);
        ctx.beginPath(); ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom); ctx.stroke();
        ctx.fillStyle = '#555'; ctx.font = '10px sans-serif'; ctx.fillText(mark.label, px + 3, area.top + 10);
        ctx.restore();
      });
    }
  };
  function chart(container, title, labels, report, field, marks, percent) {
    var box = el('div', { class: 'chart' });
    var canvas = el('canvas', { 'data-metric': field, 'aria-label': title });
    box.appendChild(canvas);
    container.appendChild(box);
    var datasets = Object.keys(report.series).map(function (key, i) {
      var byAt = {};
      report.series[key].forEach(function (p) { byAt[p.at] = p; });
      var data = labels.map(function (at) { var p = byAt[at]; return p && p[field] !== undefined ? p[field] : null; });
      var filled = data.filter(function (v) { return v !== null; }).length;
      status.points += filled;
      status.byMetric[field] = (status.byMetric[field] || 0) + filled;
      return { label: key, data: data, borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], spanGaps: true, pointRadius: 2 };
    });
    new Chart(canvas, {
      type: 'line',
      data: { labels: labels.map(function (at) { return at.slice(11, 16); }), datasets: datasets },
      options: {
        animation: false, maintainAspectRatio: false,
        plugins: { title: { display: true, text: title }, rolloutMarks: { marks: marks } },
        scales: { y: { beginAtZero: true, ticks: percent ? { callback: function (v) { return pct(v); } } : {} } }
      },
      plugins: [rolloutMarks]
    });
    status.charts++;
  }
  function summary(report) {
    var table = el('table');
    var head = el('tr');
    ['variant', 'captured', 'share', 'error rate', 'p50 ms', 'p99 ms', 'accuracy / MAE', 'top drift (PSI)'].forEach(function (h) { head.appendChild(el('th', {}, h)); });
    table.appendChild(head);
    report.variants.forEach(function (v) {
      var row = el('tr');
      var q = v.quality;
      var quality = !q ? '–' : q.accuracy !== undefined ? pct(q.accuracy) + ' (' + q.rows + ')' : q.mae.toFixed(3) + ' / ' + q.rmse.toFixed(3);
      var top = v.psi.slice(0, 3).map(function (p) { return p.feature + ' ' + p.psi.toFixed(3); }).join(', ') || '–';
      [v.variant + ' v' + v.version, v.requests, pct(v.share), pct(v.errorRate), v.latencyMs.p50, v.latencyMs.p99, quality].forEach(function (c) { row.appendChild(el('td', {}, String(c))); });
      row.appendChild(el('td', v.drifted.length ? { class: 'drift' } : {}, top));
      table.appendChild(row);
    });
    return table;
  }
  function render(reports) {
    var main = document.getElementById('models');
    main.textContent = '';
    if (reports.length === 0) main.appendChild(el('p', { class: 'muted' }, 'no models'));
    reports.forEach(function (report) {
      var section = el('section', { class: 'model', 'data-model': report.model });
      section.appendChild(el('h2', {}, report.model + ' — stage ' + report.stage));
      if (report.variants.length === 0) {
        section.appendChild(el('p', { class: 'muted' }, 'no captured requests in this window (set CAPTURE_SAMPLE_RATE)'));
        main.appendChild(section);
        return;
      }
      section.appendChild(summary(report));
      var labels = [];
      Object.keys(report.series).forEach(function (k) { report.series[k].forEach(function (p) { if (labels.indexOf(p.at) < 0) labels.push(p.at); }); });
      labels.sort();
      var marks = report.rollout.map(function (r) {
        var index = 0;
        labels.forEach(function (at, i) { if (at <= r.at) index = i; });
        return { index: index, label: r.action };
      });
      if (report.rollout.length) {
        var list = el('ul', { class: 'rollout' });
        report.rollout.forEach(function (r) { list.appendChild(el('li', {}, r.at.slice(0, 16).replace('T', ' ') + ' ' + r.action + ': ' + r.variants + (r.reason ? ' (' + r.reason + ')' : ''))); });
        section.appendChild(list);
      }
      var grid = el('div', { class: 'grid' });
      section.appendChild(grid);
      chart(grid, 'traffic share', labels, report, 'share', marks, true);
      chart(grid, 'error rate', labels, report, 'errorRate', marks, true);
      chart(grid, 'latency p50 (ms)', labels, report, 'p50', marks, false);
      chart(grid, 'latency p99 (ms)', labels, report, 'p99', marks, false);
      chart(grid, 'accuracy', labels, report, 'accuracy', marks, true);
      chart(grid, 'max PSI (threshold ' + report.psiThreshold + ')', labels, report, 'psiMax', marks, false);
      main.appendChild(section);
    });
    status.ready = true;
  }
  if (window.MODELFLEET_REPORTS) return render(window.MODELFLEET_REPORTS);
  var since = new URLSearchParams(location.search).get('since') || '24h';
  fetch('/dashboard/data?since=' + encodeURIComponent(since)).then(function (r) {
    if (!r.ok) throw new Error('HTTP ' + r.status);
    return r.json();
  }).then(function (data) {
    document.getElementById('window').textContent = ' since ' + data.since + ' · stage ' + data.stage;
    render(data.reports);
  }).catch(function (err) {
    document.getElementById('models').textContent = 'could not load the report: ' + err.message;
    status.error = err.message;
  });
})();
`;
