// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are Terraform interpolations, not JS templates
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseGuardSettings } from '../../shared/config/guard';
import {
  type CloudMonitoringMetricSource,
  GCP_METRICS,
} from '../../shared/control/metric-sources/cloud-monitoring';
import { openMetricSource } from '../../shared/control/metric-sources/open';
import { cloudLoggingLine } from '../../shared/telemetry/cloud-logging';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { GCP_LABELS_KEY } from '../../shared/telemetry/metric-formats';
import { successEvent } from '../support/metric-events';
import { ROOT } from '../support/processes';

/**
 * infra/gcp checked offline: `terraform fmt`, then the HCL parsed by @cdktf/hcl2json (the parser
 * CDKTF uses) and asserted like the AWS template in test/deploy/serverless.test.ts.
 */
const GCP = path.join(ROOT, 'infra', 'gcp');
type Block = Record<string, unknown>;
interface Terraform {
  resource: Record<string, Record<string, Block[]>>;
  variable: Record<string, Block[]>;
  locals: Block[];
  data?: Record<string, Record<string, Block[]>>;
  output?: Record<string, Block[]>;
}

let tf: Terraform;
let locals: Block;

beforeAll(async () => {
  const files = readdirSync(GCP).filter((name) => name.endsWith('.tf'));
  const parser = path.join(__dirname, 'support', 'hcl-to-json.cjs');
  const run = spawnSync(process.execPath, [parser, ...files.map((file) => path.join(GCP, file))], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`hcl2json failed: ${run.stderr}`);
  const byFile = JSON.parse(run.stdout) as Record<string, Terraform>;
  tf = { resource: {}, variable: {}, locals: [], data: {}, output: {} };
  for (const file of files) {
    const parsed: Partial<Terraform> = byFile[file] ?? {};
    for (const [type, byName] of Object.entries(parsed.resource ?? {})) {
      tf.resource[type] = { ...tf.resource[type], ...byName };
    }
    Object.assign(tf.variable, parsed.variable);
    tf.locals.push(...(parsed.locals ?? []));
    for (const [type, byName] of Object.entries(parsed.data ?? {})) tf.data = { ...tf.data, [type]: byName };
    Object.assign(tf.output ?? {}, parsed.output);
  }
  locals = Object.assign({}, ...tf.locals);
});

function resource(type: string, name: string): Block {
  const block = tf.resource[type]?.[name]?.[0];
  if (block === undefined) throw new Error(`infra/gcp has no ${type}.${name}`);
  return block;
}

function one(block: Block, key: string): Block {
  const value = block[key];
  if (!Array.isArray(value) || value.length !== 1) throw new Error(`expected one ${key} block`);
  return value[0] as Block;
}

function variableDefault(name: string): unknown {
  return tf.variable[name]?.[0]?.['default'];
}

/** `${local.x}` where x is a literal local, substituted (one level, as the templates use them). */
function expand(text: string): string {
  return text.replace(/\$\{local\.([a-z_]+)\}/g, (whole, name: string) => {
    const value = locals[name];
    return typeof value === 'string' && !value.startsWith('${') ? value : whole;
  });
}

function allStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(allStrings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(allStrings);
  return [];
}

function iamMembers(): { type: string; name: string; block: Block }[] {
  return Object.entries(tf.resource)
    .filter(([type]) => /_iam_(member|binding|policy)$/.test(type))
    .flatMap(([type, byName]) =>
      Object.entries(byName).map(([name, blocks]) => ({ type, name, block: blocks[0] as Block })),
    );
}

/**
 * Every google_logging_metric instance by the name after `<name>_`: a for_each over a local map
 * gives one instance per key, with `each.key`, `each.value` and `each.value.<field>` filled in.
 */
function logMetrics(): Map<string, Block> {
  const instances = new Map<string, Block>();
  for (const [address, [block]] of Object.entries(tf.resource['google_logging_metric'] ?? {})) {
    if (block === undefined) continue;
    const forEach = /^\$\{local\.([a-z_]+)\}$/.exec(String(block['for_each'] ?? ''))?.[1];
    if (forEach === undefined) {
      instances.set(address, block);
      continue;
    }
    for (const [key, value] of Object.entries(locals[forEach] as Record<string, unknown>)) {
      const fill = (text: string) =>
        text
          .replaceAll('${each.key}', key)
          .replace(/\$\{each\.value(?:\.([a-z_]+))?\}/g, (_, name?: string) =>
            String(name === undefined ? value : (value as Record<string, unknown>)[name]),
          );
      const filled = JSON.parse(JSON.stringify(block), (_, v: unknown) =>
        typeof v === 'string' ? fill(v) : v,
      );
      instances.set(key, filled as Block);
    }
  }
  return instances;
}

function logMetric(name: string): Block {
  const metric = logMetrics().get(name);
  if (metric === undefined) throw new Error(`infra/gcp defines no log-based metric ${name}`);
  return metric;
}

const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' });
const hasTerraform = terraform.status === 0;
// Said, not silent: without the binary the formatting check cannot run; the parse checks still do.
(hasTerraform ? it : it.skip)(
  hasTerraform ? 'is formatted (terraform fmt -check)' : 'is formatted (SKIPPED: terraform is not on PATH)',
  () => {
    const fmt = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', GCP], { encoding: 'utf8' });
    expect({ status: fmt.status, diff: fmt.stdout }).toEqual({ status: 0, diff: '' });
  },
);

describe('references', () => {
  it('names only declared variables, locals and resources', () => {
    const text = allStrings(tf).join('\n');
    for (const [, name] of text.matchAll(/\bvar\.([a-z0-9_]+)/g))
      expect(Object.keys(tf.variable)).toContain(name);
    for (const [, name] of text.matchAll(/\blocal\.([a-z0-9_]+)/g))
      expect(Object.keys(locals)).toContain(name);
    for (const [, type, name] of text.matchAll(/(?<![.\w])(google_[a-z0-9_]+)\.([a-z0-9_]+)/g)) {
      const known = tf.resource[type ?? '']?.[name ?? ''] ?? tf.data?.[type ?? '']?.[name ?? ''];
      expect({ reference: `${type}.${name}`, known: known !== undefined }).toEqual({
        reference: `${type}.${name}`,
        known: true,
      });
    }
  });

  it('declares a type and a description for every variable; every declared variable is used', () => {
    const text = allStrings(tf.resource).concat(allStrings(tf.locals), allStrings(tf.output)).join('\n');
    for (const [name, [block]] of Object.entries(tf.variable) as [string, [Block]][]) {
      expect({ name, type: typeof block['type'], description: typeof block['description'] }).toEqual({
        name,
        type: 'string',
        description: 'string',
      });
      expect({ name, used: text.includes(`var.${name}`) }).toEqual({ name, used: true });
    }
  });
});

describe('identities are least-privilege', () => {
  it('grants no basic or admin role, nothing authoritative, and no wildcard', () => {
    for (const { type, name, block } of iamMembers()) {
      expect({ type, name, authoritative: !type.endsWith('_iam_member') }).toEqual({
        type,
        name,
        authoritative: false,
      });
      const role = String(block['role']);
      expect(role).not.toMatch(/^roles\/(owner|editor|viewer)$|admin|\*/i);
    }
  });

  it('gives each identity exactly its roles, on the narrowest resource', () => {
    const grants = iamMembers()
      .map(({ type, block }) => {
        const member = String(block['member']);
        const who = /google_service_account\.([a-z_]+)\.email/.exec(member)?.[1] ?? member;
        const on = allStrings([
          block['bucket'],
          block['secret_id'],
          block['service'],
          block['service_account_id'],
          block['topic'],
        ])
          .map((ref) => /google_[a-z0-9_]+\.([a-z_]+)/.exec(ref)?.[0] ?? ref)
          .join('');
        return `${who} ${block['role']} ${type.replace(/_iam_member$/, '')}${on === '' ? '' : ` ${on}`}`;
      })
      .sort();
    expect(grants).toEqual(
      [
        'build roles/artifactregistry.writer google_project',
        'build roles/logging.logWriter google_project',
        'build roles/storage.objectViewer google_storage_bucket google_storage_bucket.sources',
        'function roles/secretmanager.secretAccessor google_secret_manager_secret google_secret_manager_secret.api_keys',
        'function roles/storage.objectViewer google_storage_bucket google_storage_bucket.models',
        'guard roles/monitoring.viewer google_project',
        'guard roles/storage.objectUser google_storage_bucket google_storage_bucket.models',
        'invoker roles/run.invoker google_cloud_run_service google_cloudfunctions2_function.guard',
        'serviceAccount:${local.pubsub_agent} roles/iam.serviceAccountTokenCreator google_service_account google_service_account.invoker',
        'serviceAccount:${local.monitoring_agent} roles/pubsub.publisher google_pubsub_topic google_pubsub_topic.rollout_alerts',
        '${each.value} roles/run.invoker google_cloud_run_service google_cloudfunctions2_function.modelfleet',
      ].sort(),
    );
  });

  it('limits model reads (function) and writes (guard) to the repository prefix', () => {
    for (const name of ['function_reads_models', 'guard_writes_models']) {
      const condition = one(resource('google_storage_bucket_iam_member', name), 'condition');
      expect(condition['expression']).toBe('${local.repository_condition}');
    }
    const expression = String(locals['repository_condition']);
    expect(expression).toContain('/objects/${var.model_prefix}/');
    expect(expression).toContain('storage.googleapis.com/objectListPrefix');
  });

  it('runs the functions and the build under their own accounts, never the default compute one', () => {
    const inference = resource('google_cloudfunctions2_function', 'modelfleet');
    expect(one(inference, 'service_config')['service_account_email']).toBe(
      '${google_service_account.function.email}',
    );
    expect(one(inference, 'build_config')['service_account']).toBe('${google_service_account.build.id}');
    const guard = resource('google_cloudfunctions2_function', 'guard');
    expect(one(guard, 'service_config')['service_account_email']).toBe(
      '${google_service_account.guard.email}',
    );
    expect(one(guard, 'build_config')['service_account']).toBe('${google_service_account.build.id}');
  });

  it('opens the API to invoker_members only, and no bucket to anyone outside', () => {
    const invokers = resource('google_cloud_run_service_iam_member', 'invokers');
    expect(invokers['for_each']).toBe('${toset(var.invoker_members)}');
    for (const { type, block } of iamMembers()) {
      if (type === 'google_storage_bucket_iam_member')
        expect(String(block['member'])).not.toMatch(/all(Authenticated)?Users/);
    }
  });
});

describe('storage', () => {
  it('keeps every bucket private with uniform access; the models bucket versioned and kept', () => {
    for (const [name, [bucket]] of Object.entries(tf.resource['google_storage_bucket'] ?? {}) as [
      string,
      [Block],
    ][]) {
      expect({
        name,
        uniform: bucket['uniform_bucket_level_access'],
        pap: bucket['public_access_prevention'],
      }).toEqual({ name, uniform: true, pap: 'enforced' });
    }
    const models = resource('google_storage_bucket', 'models');
    expect(one(models, 'versioning')['enabled']).toBe(true);
    expect(models['force_destroy']).toBe(false);
    expect(one(models, 'lifecycle')['prevent_destroy']).toBe(true);
  });
});

describe('the inference function', () => {
  let service: Block;
  beforeAll(() => {
    service = one(resource('google_cloudfunctions2_function', 'modelfleet'), 'service_config');
  });

  it('runs the entry point functions/gcp/index.ts registers', () => {
    const build = one(resource('google_cloudfunctions2_function', 'modelfleet'), 'build_config');
    const source = readFileSync(path.join(ROOT, 'functions', 'gcp', 'index.ts'), 'utf8');
    expect(source).toContain(`http('${build['entry_point']}'`);
    expect(build['runtime']).toMatch(/^nodejs(2[2-9])$/);
  });

  it('has scaling bounds: a warm floor, a ceiling and per-instance concurrency', () => {
    expect(service).toMatchObject({
      min_instance_count: '${var.min_instances}',
      max_instance_count: '${var.max_instances}',
      max_instance_request_concurrency: '${var.concurrency}',
    });
    const min = Number(variableDefault('min_instances'));
    const max = Number(variableDefault('max_instances'));
    expect(min).toBeGreaterThanOrEqual(1);
    expect(max).toBeGreaterThan(min);
    expect(Number(variableDefault('concurrency'))).toBeGreaterThanOrEqual(1);
    expect(tf.variable['max_instances']?.[0]?.['validation']).toBeDefined();
  });

  it('keeps new revisions off traffic by default, for the canary procedure', () => {
    expect(service['all_traffic_on_latest_revision']).toBe('${var.promote_on_deploy}');
    expect(variableDefault('promote_on_deploy')).toBe(false);
  });

  it('reads the API key hashes from Secret Manager, never from a plain variable', () => {
    const secrets = service['secret_environment_variables'] as Block[];
    expect(secrets).toEqual([
      expect.objectContaining({
        key: 'API_KEYS',
        secret: '${google_secret_manager_secret.api_keys.secret_id}',
      }),
    ]);
    for (const fn of ['modelfleet', 'guard']) {
      const env = one(resource('google_cloudfunctions2_function', fn), 'service_config')[
        'environment_variables'
      ];
      for (const name of Object.keys(env as Block))
        expect(name).not.toMatch(/KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL/i);
    }
    expect(tf.variable['api_key_hashes']?.[0]?.['sensitive']).toBe(true);
  });
});

describe('the rollout guard wiring (issue 15)', () => {
  it('runs target modelfleetGuard, internal ingress, one evaluation at a time', () => {
    const guard = resource('google_cloudfunctions2_function', 'guard');
    expect(one(guard, 'build_config')['entry_point']).toBe('modelfleetGuard');
    expect(one(guard, 'service_config')).toMatchObject({
      ingress_settings: 'ALLOW_INTERNAL_ONLY',
      max_instance_count: 1,
      max_instance_request_concurrency: 1,
    });
  });

  it('Cloud Scheduler calls the guard with an OIDC token of the invoker account', () => {
    const target = one(resource('google_cloud_scheduler_job', 'guard'), 'http_target');
    const guardUri = '${google_cloudfunctions2_function.guard[0].service_config[0].uri}';
    expect(target['uri']).toBe(guardUri);
    expect(one(target, 'oidc_token')).toEqual({
      service_account_email: '${google_service_account.invoker.email}',
      audience: guardUri,
    });
  });

  it('wires every model alert to Pub/Sub and the topic to the guard, and code alerts to a person', () => {
    const policies = tf.resource['google_monitoring_alert_policy'] ?? {};
    expect(Object.keys(policies).sort()).toEqual([
      'revision_error_rate',
      'variant_drift',
      'variant_error_rate',
      'variant_latency_p99',
    ]);
    for (const name of ['variant_error_rate', 'variant_latency_p99']) {
      expect(policies[name]?.[0]?.['notification_channels']).toEqual([
        '${google_monitoring_notification_channel.rollback.id}',
      ]);
    }
    // Drift is a reason to look, not to roll back: it goes to a person like code alerts.
    for (const name of ['revision_error_rate', 'variant_drift']) {
      expect(policies[name]?.[0]?.['notification_channels']).toEqual([
        '${google_monitoring_notification_channel.operator.id}',
      ]);
    }
    const channel = resource('google_monitoring_notification_channel', 'rollback');
    expect(channel['type']).toBe('pubsub');
    expect(channel['labels']).toEqual({ topic: '${google_pubsub_topic.rollout_alerts.id}' });
    const push = resource('google_pubsub_subscription', 'guard_push');
    expect(push['topic']).toBe('${google_pubsub_topic.rollout_alerts.id}');
    expect(one(one(push, 'push_config'), 'oidc_token')).toEqual({
      service_account_email: '${google_service_account.invoker.email}',
      audience: '${google_cloudfunctions2_function.guard[0].service_config[0].uri}',
    });
    expect(one(push, 'push_config')['push_endpoint']).toBe(
      '${google_cloudfunctions2_function.guard[0].service_config[0].uri}',
    );
  });

  it('splits model alerts per variant and code alerts per revision', () => {
    expect(locals['per_variant']).toEqual([
      'metric.label.model',
      'metric.label.variant',
      'metric.label.version',
    ]);
    expect(locals['per_revision']).toEqual(['metric.label.revision']);
    const labels = Object.keys(locals['metric_labels'] as Block);
    for (const field of [...(locals['per_variant'] as string[]), ...(locals['per_revision'] as string[])]) {
      expect(labels).toContain(field.replace('metric.label.', ''));
    }
  });
});

describe('log-based metrics read the lines the GCP adapter writes', () => {
  /** The LogEntry Cloud Logging makes of one stdout line of a gen2 function. */
  function logEntry(event: RequestMetricEvent): Record<string, unknown> {
    const line = JSON.parse(cloudLoggingLine(event)) as Record<string, unknown>;
    const { severity, [GCP_LABELS_KEY]: labels, ...jsonPayload } = line;
    return {
      resource: {
        type: 'cloud_run_revision',
        labels: { service_name: 'modelfleet', revision_name: 'modelfleet-00002-abc' },
      },
      severity,
      labels,
      jsonPayload,
    };
  }

  function field(entry: unknown, dotted: string): unknown {
    return dotted
      .split('.')
      .reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], entry);
  }

  /**
   * Evaluates the `a.b="v" AND a.b>=n …` filters the metrics use: `${var.name}` stands for
   * modelfleet, other variables for their defaults.
   */
  function matches(filter: string, entry: unknown): boolean {
    const text = expand(expand(filter))
      .replaceAll('${var.name}', 'modelfleet')
      .replace(/\$\{var\.([a-z_]+)\}/g, (_, name: string) => String(variableDefault(name)));
    return text.split(' AND ').every((clause) => {
      const parsed = /^([A-Za-z_.]+)(=|>=)(?:"([^"]*)"|(-?[0-9.]+))$/.exec(clause.trim());
      if (parsed === null) throw new Error(`unexpected filter clause ${clause}`);
      const [, name, operator, text, number] = parsed;
      const value = field(entry, name ?? '');
      if (operator === '=') return String(value) === text;
      // A numeric comparison holds only for a number field that is there (Cloud Logging's rule).
      return typeof value === 'number' && value >= Number(number);
    });
  }

  /** A label extractor of the two kinds the templates use, applied to one entry. */
  function extract(extractor: string, entry: unknown): unknown {
    const plain = /^EXTRACT\(([A-Za-z_.]+)\)$/.exec(extractor);
    if (plain !== null) return field(entry, plain[1] ?? '');
    const regexp = /^REGEXP_EXTRACT\(([A-Za-z_.]+), "(.+)"\)$/.exec(extractor);
    if (regexp === null) throw new Error(`unexpected extractor ${extractor}`);
    return new RegExp(regexp[2] ?? '').exec(String(field(entry, regexp[1] ?? '')))?.[1];
  }

  const warmServerError = logEntry({
    ...successEvent,
    status: 503,
    errorClass: 'unavailable',
    coldStart: false,
  });
  const coldSuccess = logEntry(successEvent);
  const warmSuccess = logEntry({ ...successEvent, coldStart: false });
  const clientError = logEntry({
    ...successEvent,
    status: 400,
    errorClass: 'invalid_input',
    coldStart: false,
  });
  const otherService = {
    ...coldSuccess,
    resource: { type: 'cloud_run_revision', labels: { service_name: 'other' } },
  };
  const withFeedback = logEntry({ ...successEvent, coldStart: false, feedbackRows: 40, feedbackCorrect: 36 });
  const drifted = logEntry({
    ...successEvent,
    coldStart: false,
    driftPsi: { tenure: 0.31 },
    driftPsiMax: 0.31,
  });
  const steady = logEntry({
    ...successEvent,
    coldStart: false,
    driftPsi: { tenure: 0.04 },
    driftPsiMax: 0.04,
  });

  it.each([
    ['requests', [warmServerError, coldSuccess, clientError], [otherService]],
    ['errors', [warmServerError], [coldSuccess, clientError, otherService]],
    ['warm_latency', [warmSuccess, withFeedback], [warmServerError, clientError, coldSuccess, otherService]],
    ['cold_starts', [coldSuccess], [warmServerError, clientError]],
    ['drift_windows', [drifted], [steady, warmSuccess, withFeedback, otherService]],
    ['feedback_rows', [withFeedback], [warmSuccess, drifted, otherService]],
    ['feedback_correct', [withFeedback], [warmSuccess, drifted, otherService]],
  ])('%s counts the right lines', (name, counted, ignored) => {
    const metric = logMetric(name);
    for (const entry of counted) expect(matches(String(metric['filter']), entry)).toBe(true);
    for (const entry of ignored) expect(matches(String(metric['filter']), entry)).toBe(false);
  });

  it('feedback distributions read the rows scored and the rows right off the line that carries them', () => {
    const read = (name: string) => extract(String(logMetric(name)['value_extractor']), withFeedback);
    expect({ rows: read('feedback_rows'), correct: read('feedback_correct') }).toEqual({
      rows: 40,
      correct: 36,
    });
  });

  it('names, for the guard, exactly the metrics this stack defines (GUARD_METRIC_PREFIX + GCP_METRICS)', () => {
    const guard = one(resource('google_cloudfunctions2_function', 'guard'), 'service_config');
    const env = guard['environment_variables'] as Record<string, string>;
    // The values a `terraform apply` with name modelfleet, stage prod would give.
    const applied: Record<string, string> = {
      '${var.name}': 'modelfleet',
      '${var.stage}': 'prod',
      '${var.project}': 'my-project',
      '${local.repository}': 'gs://my-project-models/models',
      '${local.metric_type}': String(locals['metric_type']),
    };
    const settings = parseGuardSettings(
      Object.fromEntries(
        Object.entries(env).map(([key, value]) => [
          key,
          value.replace(/\$\{[a-z_.]+\}/g, (reference) => applied[reference] ?? reference),
        ]),
      ),
      'cloud-monitoring',
    );
    const source = openMetricSource(settings.metrics) as CloudMonitoringMetricSource;
    const names = [...logMetrics().values()].map((metric) =>
      String(metric['name']).replaceAll('${var.name}', 'modelfleet'),
    );
    for (const metric of Object.keys(GCP_METRICS) as (keyof typeof GCP_METRICS)[]) {
      const type = source.metricType(metric);
      expect(type.startsWith('logging.googleapis.com/user/')).toBe(true);
      expect(names).toContain(type.slice('logging.googleapis.com/user/'.length));
    }
  });

  it('extracts labels and values that the lines carry', () => {
    const extractors = [...logMetrics()].map(([name, metric]) => ({
      name,
      extractors: metric['label_extractors'],
    }));
    for (const { name, extractors: used } of extractors) {
      expect({ name, used }).toEqual({
        name,
        used:
          name === 'requests'
            ? '${merge(local.metric_labels, local.request_labels)}'
            : '${local.metric_labels}',
      });
    }
    for (const [label, extractor] of Object.entries(locals['metric_labels'] as Record<string, string>)) {
      expect({ label, type: typeof extract(extractor, warmServerError) }).toEqual({ label, type: 'string' });
    }
    expect(extract('EXTRACT(labels.variant)', warmServerError)).toBe('canary');
    // The guard's split of requests: status class and cold start, as labels.
    const requestLabels = locals['request_labels'] as Record<string, string>;
    const labelsOf = (entry: unknown) =>
      Object.fromEntries(Object.entries(requestLabels).map(([label, e]) => [label, extract(e, entry)]));
    expect(labelsOf(warmServerError)).toEqual({ status_class: '5', cold_start: 'false' });
    expect(labelsOf(clientError)).toEqual({ status_class: '4', cold_start: 'false' });
    expect(labelsOf(coldSuccess)).toEqual({ status_class: '2', cold_start: 'true' });
    const latency = logMetric('warm_latency');
    expect(extract(String(latency['value_extractor']), warmSuccess)).toBe(12.346);
  });

  it('alerts and the dashboard read the metrics defined here', () => {
    const text =
      allStrings(tf.resource['google_monitoring_alert_policy']).join('\n') + String(locals['variant_chart']);
    const used = [...text.matchAll(/google_logging_metric\.([a-z_]+)(?:\["([a-z_]+)"\])?\.name/g)].map(
      (m) => m[2] ?? m[1],
    );
    expect(new Set(used)).toEqual(
      new Set(['requests', 'errors', 'warm_latency', 'cold_starts', 'feedback_rows', 'drift_windows']),
    );
    // Each reference names an instance the stack defines.
    for (const name of used) expect(logMetrics().has(name ?? '')).toBe(true);
    expect(allStrings(tf.resource['google_monitoring_dashboard']).join('')).toContain('local.variant_chart');
  });
});
