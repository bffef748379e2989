/**
 * `modelfleet monitor <model> [--stage S] [--since 24h] [--json] [--html FILE]`: per-variant
 * traffic, errors, latency, accuracy and PSI (top drifting features first) from the capture and
 * feedback records in the repository's store.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseBaselineData } from '../../shared/control/baseline';
import { chartJsSource, dashboardHtml } from '../../shared/control/dashboard';
import { buildReport, type MonitorReport, parseDuration } from '../../shared/control/monitor-report';
import type { ModelRepository } from '../../shared/repository/repository';

export const MONITOR_USAGE = `  monitor <model> [--stage STAGE] [--since 24h] [--json] [--html FILE]
      Per-variant traffic, errors, latency, accuracy and drift (PSI) from captured requests and
      feedback; --html writes a self-contained page with the dashboard's plots.`;

export interface MonitorOptions {
  stage: string;
  since?: string;
  json?: boolean;
  html?: string;
  psiThreshold?: number;
  now?: Date;
}

/** Runs the command; `fail` raises the CLI's usage error. */
export async function runMonitor(
  repository: ModelRepository,
  args: readonly string[],
  options: MonitorOptions,
  print: (text: string) => void,
  fail: (message: string) => never,
): Promise<MonitorReport> {
  if (args.length !== 1) fail('monitor: expected <model>');
  const model = args[0] as string;
  const sinceText = options.since ?? '24h';
  const window = parseDuration(sinceText);
  if (window === undefined)
    fail(`--since: expected a duration such as 30m, 24h or 7d, got ${JSON.stringify(sinceText)}`);
  const until = options.now ?? new Date();
  const report = await buildReport(repository, model, {
    stage: options.stage,
    since: new Date(until.getTime() - (window as number)),
    until,
    ...(options.psiThreshold === undefined ? {} : { psiThreshold: options.psiThreshold }),
  });
  if (options.html !== undefined) {
    const chartJs =
      chartJsSource() ?? readFileSync(require.resolve('chart.js/dist/chart.umd.min.js'), 'utf8');
    writeFileSync(
      path.resolve(options.html),
      dashboardHtml({ inline: { chartJs: chartJs as string, reports: [report] } }),
    );
  }
  print(options.json === true ? JSON.stringify(report, null, 2) : formatReport(report, options.html));
  return report;
}

export function formatReport(report: MonitorReport, htmlFile?: string): string {
  const lines = [`${report.model} on stage ${report.stage}, ${report.since} → ${report.until}`];
  if (report.variants.length === 0) {
    lines.push('no captured requests in this window (is CAPTURE_SAMPLE_RATE above 0?)');
  }
  for (const v of report.variants) {
    const q = v.quality;
    const quality =
      q === undefined
        ? 'no feedback joined'
        : q.accuracy !== undefined
          ? `accuracy ${pct(q.accuracy)} on ${q.rows} rows`
          : `MAE ${q.mae?.toFixed(4)} RMSE ${q.rmse?.toFixed(4)} on ${q.rows} rows`;
    lines.push(
      `  ${v.variant} v${v.version}: ${v.requests} captured (${pct(v.share)}), errors ${pct(v.errorRate)}, p50 ${v.latencyMs.p50} ms, p99 ${v.latencyMs.p99} ms, ${quality}`,
    );
    if (v.psi.length > 0) {
      const psi = v.psi.map(
        (p) => `${p.feature} ${p.psi.toFixed(3)}${p.psi >= report.psiThreshold ? ' DRIFT' : ''}`,
      );
      lines.push(
        `    PSI: ${psi.join(', ')}${v.predictionPsi === undefined ? '' : `; predictions ${v.predictionPsi.toFixed(3)}`}`,
      );
    }
  }
  for (const step of report.rollout) lines.push(`  ${step.at} ${step.action}: ${step.variants}`);
  if (htmlFile !== undefined) lines.push(`wrote ${htmlFile}`);
  return lines.join('\n');
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** `package --baseline FILE`: columns of a .csv or .jsonl file. */
export function readBaselineFile(file: string, fail: (message: string) => never): Map<string, unknown[]> {
  const format = /\.jsonl?$/i.test(file) ? 'jsonl' : /\.csv$/i.test(file) ? 'csv' : undefined;
  if (format === undefined) return fail(`--baseline: expected a .csv or .jsonl file, got ${file}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return fail(`--baseline: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return parseBaselineData(text, format);
  } catch (err) {
    return fail(`--baseline: ${file}: ${(err as Error).message}`);
  }
}
