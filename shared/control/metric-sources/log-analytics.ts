import type { EvaluationWindow, MetricSource, VariantAggregate, WindowQuery } from '../rollout-metrics';
import { MetricQueryError, requestJson } from './http-json';

/**
 * Azure Monitor Log Analytics (`POST /v1/workspaces/{id}/query`, KQL) over the Azure functions'
 * records (shared/telemetry/metric-formats.ts `toAzureLogRecord`), which the Functions logger puts
 * in Application Insights' traces: workspace-based `AppTraces` (column `Message`) by default.
 * One query per window summarizes both variants; feedback records (`modelfleet.feedback`, with a
 * boolean `properties.correct`) are counted when the monitoring side writes them.
 */
export interface LogAnalyticsOptions {
  workspaceId: string;
  /** A bearer token for https://api.loganalytics.io (the function app's managed identity). */
  accessToken: () => Promise<string>;
  /** Default https://api.loganalytics.io/ */
  endpoint?: string;
  /** Default AppTraces / Message; classic Application Insights: traces / message. */
  table?: string;
  messageColumn?: string;
}

const kqlString = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export class LogAnalyticsMetricSource implements MetricSource {
  readonly name = 'log-analytics';

  constructor(private readonly options: LogAnalyticsOptions) {}

  /** The KQL for a window (exported for the tests that check it). */
  kql(query: WindowQuery): string {
    const table = this.options.table ?? 'AppTraces';
    const message = this.options.messageColumn ?? 'Message';
    const side = (which: { variant: string; version: number }) =>
      `(variant == ${kqlString(which.variant)} and version == ${kqlString(String(which.version))})`;
    const warm = 'event == "modelfleet.request" and not(cold) and status < 400';
    return [
      table,
      `| where TimeGenerated >= datetime(${query.start.toISOString()}) and TimeGenerated < datetime(${query.end.toISOString()})`,
      `| where ${message} startswith '{"event":"modelfleet.'`,
      `| extend r = parse_json(${message})`,
      '| extend event = tostring(r.event), model = tostring(r.properties.model), stage = tostring(r.properties.stage)',
      `| where model == ${kqlString(query.model)} and stage == ${kqlString(query.stage)}`,
      '| extend variant = tostring(r.properties.variant), version = tostring(r.properties.version)',
      `| where ${side(query.primary)} or ${side(query.canary)}`,
      '| extend status = toint(r.properties.status), cold = tostring(r.properties.coldStart) == "true"',
      `| extend warmMs = iff(${warm}, todouble(r.measurements.latencyMs), real(null))`,
      '| summarize requests = countif(event == "modelfleet.request"),',
      '    serverErrors = countif(event == "modelfleet.request" and status >= 500),',
      '    clientErrors = countif(event == "modelfleet.request" and status >= 400 and status < 500),',
      '    coldStarts = countif(event == "modelfleet.request" and cold),',
      `    warmCount = countif(${warm}),`,
      '    p50 = percentile(warmMs, 50), p99 = percentile(warmMs, 99),',
      '    feedback = countif(event == "modelfleet.feedback"),',
      '    correct = countif(event == "modelfleet.feedback" and tobool(r.properties.correct))',
      '    by variant, version',
    ].join('\n');
  }

  async window(query: WindowQuery): Promise<EvaluationWindow> {
    const url = new URL(
      `v1/workspaces/${encodeURIComponent(this.options.workspaceId)}/query`,
      this.options.endpoint ?? 'https://api.loganalytics.io/',
    );
    const answer = (await requestJson(
      url,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await this.options.accessToken()}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          query: this.kql(query),
          timespan: `${query.start.toISOString()}/${query.end.toISOString()}`,
        }),
      },
      'Log Analytics query',
    )) as { tables?: { name: string; columns: { name: string }[]; rows: unknown[][] }[] };
    const table = answer.tables?.find((t) => t.name === 'PrimaryResult') ?? answer.tables?.[0];
    if (table === undefined) throw new MetricQueryError('Log Analytics query: the answer has no tables');
    const rows = table.rows.map((row) =>
      Object.fromEntries(table.columns.map((column, i) => [column.name, row[i]])),
    );
    const side = (which: { variant: string; version: number }): VariantAggregate => {
      const row = rows.find(
        (r) => r['variant'] === which.variant && String(r['version']) === String(which.version),
      );
      const n = (name: string) => Number(row?.[name] ?? 0) || 0;
      const aggregate: VariantAggregate = {
        requests: n('requests'),
        serverErrors: n('serverErrors'),
        clientErrors: n('clientErrors'),
        coldStarts: n('coldStarts'),
      };
      if (n('warmCount') > 0 && row?.['p99'] !== null) {
        aggregate.warmLatency = { count: n('warmCount'), p50: n('p50'), p99: n('p99') };
      }
      if (n('feedback') > 0) aggregate.accuracy = { count: n('feedback'), correct: n('correct') };
      return aggregate;
    };
    return { start: query.start, end: query.end, primary: side(query.primary), canary: side(query.canary) };
  }
}
