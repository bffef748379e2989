// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Terraform interpolations, not JavaScript templates
/**
 * The stream templates checked offline: infra/gcp/stream/main.tf (terraform fmt, HCL parsed by
 * @cdktf/hcl2json) and infra/azure/stream.json (evaluated as Resource Manager would, test/infra/arm.ts).
 * Each one's environment is resolved as a deployment would resolve it and handed to the code's own
 * parsers (shared/config/index.ts, shared/config/streaming.ts): the function would start with it,
 * and its sinks are the topics / hubs the template creates.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../shared/config';
import { parseStreamSettings } from '../../shared/config/streaming';
import { ROOT } from '../support/processes';
import { ACCOUNT_KEY_SENTINEL, ArmEvaluator, RESOURCE_GROUP_ID, resourceId } from './arm';
import { type Block, parseTerraform } from './support/terraform';

const read = (...parts: string[]) => readFileSync(path.join(ROOT, ...parts), 'utf8');

/** Environment variable names a source file reads: env['X'], readX(env, 'X'), process.env['X']. */
function namesRead(source: string): Set<string> {
  const names = new Set<string>();
  for (const pattern of [/env\['([A-Z][A-Z0-9_]*)'\]/g, /read[A-Za-z]*\(\s*env,\s*'([A-Z][A-Z0-9_]*)'/g])
    for (const [, name] of source.matchAll(pattern)) names.add(name ?? '');
  return names;
}

const CONFIG_DIR = path.join(ROOT, 'shared', 'config');
/** Every setting the core reads at cold start (shared/config/ is the only env reader). */
const CORE_SETTINGS = new Set(
  readdirSync(CONFIG_DIR)
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => [...namesRead(readFileSync(path.join(CONFIG_DIR, file), 'utf8'))]),
);
const STREAM_SETTINGS = namesRead(read('shared', 'config', 'streaming.ts'));
/** The settings of config/streaming.ts a template may leave unset: they have a working default. */
const STREAM_OPTIONAL = ['STREAM_MODEL_VERSION'];

/**
 * What both clouds' templates must give the stream function: settings the code reads (no typo
 * slips through as an ignored variable), every STREAM_* setting of config/streaming.ts but the
 * optional ones, and values the code's parsers accept.
 */
function expectStartable(
  env: Record<string, string>,
  isPlatformSetting: (name: string) => boolean,
  entrySource: string,
) {
  const entryReads = namesRead(entrySource);
  for (const name of Object.keys(env)) {
    const known = CORE_SETTINGS.has(name) || entryReads.has(name) || isPlatformSetting(name);
    expect({ name, readByTheCode: known }).toEqual({ name, readByTheCode: true });
  }
  const streamUnset = [...STREAM_SETTINGS].filter((name) => name.startsWith('STREAM_') && !(name in env));
  expect(streamUnset.sort()).toEqual(STREAM_OPTIONAL);
  const config = parseConfig(env);
  return { config, settings: parseStreamSettings(env, config.stage) };
}

describe('GCP stream module (infra/gcp/stream/main.tf)', () => {
  const FILE = path.join(ROOT, 'infra', 'gcp', 'stream', 'main.tf');
  const tf = parseTerraform(FILE);
  const one = (type: string, name: string): Block => {
    const block = tf.resource[type]?.[name]?.[0];
    if (block === undefined) throw new Error(`no ${type}.${name}`);
    return block;
  };
  const nested = (block: Block, key: string): Block => {
    const value = block[key];
    if (!Array.isArray(value) || value.length !== 1) throw new Error(`expected one ${key} block`);
    return value[0] as Block;
  };
  const variables = tf.variable ?? {};
  const locals: Block = Object.assign({}, ...(tf.locals ?? []));
  // The variables a `terraform apply` would pass; the others keep their defaults.
  const given: Record<string, string> = {
    project: 'my-project',
    region: 'europe-west1',
    stage: 'prod',
    sources_bucket: 'my-project-modelfleet-sources',
    package_zip: '.stage/gcp/modelfleet.zip',
    models_bucket: 'my-project-modelfleet-models',
  };
  /** `${var.x}`, `${local.x}` and topic ids resolved as Terraform would; anything else fails. */
  const resolve = (text: string): string =>
    text.replace(/\$\{([^}]+)\}/g, (whole, reference: string) => {
      const variable = /^var\.([a-z_]+)$/.exec(reference)?.[1];
      if (variable !== undefined) {
        const value = given[variable] ?? variables[variable]?.[0]?.['default'];
        if (value === undefined) throw new Error(`no value for ${whole}`);
        return String(value);
      }
      const local = /^local\.([a-z_]+)$/.exec(reference)?.[1];
      if (local !== undefined && typeof locals[local] === 'string') return resolve(locals[local]);
      const topic = /^google_pubsub_topic\.([a-z_]+)\.id$/.exec(reference)?.[1];
      if (topic !== undefined)
        return `projects/${given['project']}/topics/${resolve(String(one('google_pubsub_topic', topic)['name']))}`;
      throw new Error(`cannot resolve ${whole}`);
    });

  it('is formatted as terraform fmt wants (when terraform is installed)', () => {
    const fmt = spawnSync('terraform', ['fmt', '-check', FILE], { encoding: 'utf8' });
    if (fmt.error !== undefined) return; // not installed: CI images without terraform
    expect({ status: fmt.status, out: fmt.stdout }).toEqual({ status: 0, out: '' });
  });

  it('runs the target functions/gcp/stream.ts registers, reachable only inside the project', () => {
    const fn = one('google_cloudfunctions2_function', 'stream');
    const build = nested(fn, 'build_config');
    expect(read('functions', 'gcp', 'stream.ts')).toContain(`('${build['entry_point']}',`);
    expect(build['runtime']).toMatch(/^nodejs(2[2-9])$/);
    // The main stack's build account when given, never silently the default compute one's Editor.
    expect(build['service_account']).toBe(
      '${var.build_service_account == "" ? null : var.build_service_account}',
    );
    expect(nested(fn, 'service_config')).toMatchObject({
      ingress_settings: 'ALLOW_INTERNAL_ONLY',
      service_account_email: '${google_service_account.function.email}',
      timeout_seconds: '${var.timeout_seconds}',
    });
  });

  it('sets every setting the stream entry needs; its sinks are the results and dead-letters topics', () => {
    const service = nested(one('google_cloudfunctions2_function', 'stream'), 'service_config');
    const env = Object.fromEntries(
      Object.entries(service['environment_variables'] as Record<string, string>).map(([name, value]) => [
        name,
        resolve(value),
      ]),
    );
    const { config, settings } = expectStartable(env, () => false, read('functions', 'gcp', 'stream.ts'));
    expect(config).toMatchObject({
      stage: 'prod',
      repository: 'gs://my-project-modelfleet-models/models',
      store: expect.objectContaining({ gcsProjectId: 'my-project' }),
    });
    expect(settings).toMatchObject({
      defaults: { format: 'auto', stage: 'prod' },
      sink: { kind: 'pubsub', topic: 'projects/my-project/topics/modelfleet-stream-results' },
      deadLetter: { kind: 'pubsub', topic: 'projects/my-project/topics/modelfleet-stream-dead-letters' },
    });
    expect(settings.defaults.model).toBeUndefined(); // stream_model "" = records name their model
    // Without the template's sink the function would not start, naming the setting.
    const { STREAM_SINK: _, ...withoutSink } = env;
    expect(() => parseStreamSettings(withoutSink, 'prod')).toThrow('STREAM_SINK');
  });

  it('pushes the records subscription to the function with retries, then to the dead-letters topic', () => {
    const records = one('google_pubsub_subscription', 'records');
    expect(records['topic']).toBe('${google_pubsub_topic.records.id}');
    expect(records['ack_deadline_seconds']).toBe('${var.timeout_seconds}');
    const push = nested(records, 'push_config');
    const uri = '${google_cloudfunctions2_function.stream.service_config[0].uri}';
    // functions-framework reads the topic from this path (test/adapters/stream-entries.test.ts).
    expect(push['push_endpoint']).toBe(`${uri}/\${google_pubsub_topic.records.id}`);
    expect(nested(push, 'oidc_token')).toEqual({
      service_account_email: '${google_service_account.push.email}',
      audience: uri,
    });
    expect(nested(records, 'retry_policy')).toEqual({ minimum_backoff: '10s', maximum_backoff: '600s' });
    expect(nested(records, 'dead_letter_policy')).toEqual({
      dead_letter_topic: '${google_pubsub_topic.dead_letters.id}',
      max_delivery_attempts: '${var.max_delivery_attempts}',
    });
    expect(variables['max_delivery_attempts']?.[0]?.['default']).toBe(5);
    // Results and dead letters are kept until read: a topic alone drops what nobody subscribed to.
    for (const name of ['results', 'dead_letters'])
      expect(one('google_pubsub_subscription', name)['topic']).toBe(`\${google_pubsub_topic.${name}.id}`);
    for (const [name, [subscription]] of Object.entries(tf.resource['google_pubsub_subscription'] ?? {}))
      expect({ name, expires: nested(subscription as Block, 'expiration_policy')['ttl'] }).toEqual({
        name,
        expires: '',
      });
  });

  it('grants each identity only its roles on one resource each, none basic or admin', () => {
    const grants = Object.entries(tf.resource)
      .filter(([type]) => type.endsWith('_iam_member'))
      .flatMap(([type, byName]) =>
        Object.entries(byName).map(([name, [block]]) => {
          const on = String(
            (block as Block)['topic'] ??
              (block as Block)['subscription'] ??
              (block as Block)['bucket'] ??
              (block as Block)['service'] ??
              (block as Block)['service_account_id'],
          );
          return `${type}.${name} ${String((block as Block)['role'])} ${String((block as Block)['member'])} on ${on}`;
        }),
      );
    const fn = 'serviceAccount:${google_service_account.function.email}';
    const agent = 'serviceAccount:${local.pubsub_agent}';
    expect(grants.sort()).toEqual(
      [
        `google_storage_bucket_iam_member.function_reads_models roles/storage.objectViewer ${fn} on \${var.models_bucket}`,
        `google_pubsub_topic_iam_member.function_publishes_results roles/pubsub.publisher ${fn} on \${google_pubsub_topic.results.name}`,
        `google_pubsub_topic_iam_member.function_publishes_dead_letters roles/pubsub.publisher ${fn} on \${google_pubsub_topic.dead_letters.name}`,
        `google_pubsub_topic_iam_member.pubsub_agent_forwards_dead_letters roles/pubsub.publisher ${agent} on \${google_pubsub_topic.dead_letters.name}`,
        `google_pubsub_subscription_iam_member.pubsub_agent_acknowledges_records roles/pubsub.subscriber ${agent} on \${google_pubsub_subscription.records.name}`,
        `google_service_account_iam_member.pubsub_agent_signs_push roles/iam.serviceAccountTokenCreator ${agent} on \${google_service_account.push.name}`,
        'google_cloud_run_service_iam_member.push_invokes_function roles/run.invoker serviceAccount:${google_service_account.push.email} on ${google_cloudfunctions2_function.stream.name}',
      ].sort(),
    );
    // Model reads stop at the repository prefix, as the main stack's do.
    const condition = nested(one('google_storage_bucket_iam_member', 'function_reads_models'), 'condition');
    expect(String(condition['expression'])).toContain('/objects/${var.model_prefix}/');
    expect(String(condition['expression'])).toContain('storage.googleapis.com/objectListPrefix');
    expect(resolve(String(locals['pubsub_agent']).replace('${data.google_project.this.number}', '42'))).toBe(
      'service-42@gcp-sa-pubsub.iam.gserviceaccount.com',
    );
  });

  it('declares every variable it uses, each with a type and a description; outputs say what they are', () => {
    const text = readFileSync(FILE, 'utf8');
    const used = new Set([...text.matchAll(/var\.([a-z_]+)/g)].map((match) => match[1]));
    expect([...used].sort()).toEqual(Object.keys(variables).sort());
    for (const [name, [block]] of Object.entries(variables))
      expect({ name, type: typeof block?.['type'], described: typeof block?.['description'] }).toEqual({
        name,
        type: 'string',
        described: 'string',
      });
    expect(Object.keys(tf.output ?? {}).sort()).toEqual(
      ['dead_letters_subscription', 'function_url', 'records_topic', 'results_subscription'].sort(),
    );
  });
});

describe('Azure stream template (infra/azure/stream.json)', () => {
  const template = JSON.parse(read('infra', 'azure', 'stream.json')) as {
    parameters: Record<string, { type: string; defaultValue?: unknown }>;
    variables: Record<string, unknown>;
    resources: Block[];
    outputs: Record<string, { value: unknown }>;
  };
  const PARAMETERS = {
    stage: 'prod',
    planName: 'modelfleet-plan-x',
    modelStorageName: 'modelfleetmx',
  };
  const ROLE_NAMES: Record<string, string> = {
    'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
    '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': 'Storage Blob Data Reader',
    'a638d3c7-ab3a-418d-83e6-5f17a39d4fde': 'Azure Event Hubs Data Receiver',
    '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0': 'Azure Service Bus Data Receiver',
    '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  };
  const PLATFORM_SETTINGS = [
    'FUNCTIONS_EXTENSION_VERSION',
    'FUNCTIONS_WORKER_RUNTIME',
    'WEBSITE_RUN_FROM_PACKAGE',
    'AzureWebJobsStorage__accountName',
    'AzureWebJobsStorage__credential',
    'AzureWebJobsStorage__clientId',
    // DefaultAzureCredential's choice of the user-assigned identity (the model store's reads).
    'AZURE_CLIENT_ID',
  ];
  const entrySource = read('functions', 'azure', 'stream.ts');
  /** The triggers' connections (`<connection>__fullyQualifiedNamespace`, …) are read by the host. */
  const connections = [...entrySource.matchAll(/connection: '(\w+)'/g)].map((match) => match[1]);
  const isPlatformSetting = (name: string) =>
    PLATFORM_SETTINGS.includes(name) || connections.some((connection) => name.startsWith(`${connection}__`));

  /** The template deployed with `source`: the resources whose condition holds, evaluated. */
  function deploy(source: 'eventHubs' | 'serviceBus') {
    const evaluator = new ArmEvaluator(template, { ...PARAMETERS, source });
    const deployed = template.resources
      .filter((resource) => resource['condition'] === undefined || evaluator.evaluate(resource['condition']))
      .map((resource) => evaluator.evaluate(resource) as Block);
    const ofType = (type: string) => deployed.filter((resource) => resource['type'] === type);
    const [site = {}] = ofType('Microsoft.Web/sites');
    const appSettings = ((site['properties'] as Block)['siteConfig'] as Block)['appSettings'] as {
      name: string;
      value: string;
    }[];
    const settings = Object.fromEntries(appSettings.map(({ name, value }) => [name, String(value)]));
    expect(Object.keys(settings)).toHaveLength(appSettings.length); // no setting twice
    /** App Service resolves a Key Vault reference to the secret's value (the identity may read it). */
    const resolved = Object.fromEntries(
      Object.entries(settings).map(([name, value]) => {
        const reference = /^@Microsoft\.KeyVault\(VaultName=([^;]+);SecretName=([^)]+)\)$/.exec(value);
        if (reference === null) return [name, value];
        const secret = ofType('Microsoft.KeyVault/vaults/secrets').find(
          (s) => s['name'] === `${reference[1]}/${reference[2]}`,
        );
        if (secret === undefined) throw new Error(`${name} names a secret the template does not create`);
        return [name, String((secret['properties'] as Block)['value'])];
      }),
    );
    const roles = ofType('Microsoft.Authorization/roleAssignments').map((assignment) => {
      const properties = assignment['properties'] as Block;
      const id = String(properties['roleDefinitionId']).split('/').pop() ?? '';
      return `${ROLE_NAMES[id] ?? `unknown role ${id}`} on ${String(assignment['scope'])}`;
    });
    const variable = (name: string) => String(evaluator.expression(`variables('${name}')`));
    return { evaluator, deployed, ofType, settings, resolved, roles, variable };
  }

  it('evaluates: known functions, declared parameters and variables, every one used, outputs too', () => {
    for (const source of ['eventHubs', 'serviceBus'] as const) {
      const { evaluator } = deploy(source);
      for (const output of Object.values(template.outputs))
        expect(() => evaluator.evaluate(output.value)).not.toThrow();
    }
    const text = JSON.stringify({ ...template, parameters: undefined });
    for (const name of Object.keys(template.parameters)) expect(text).toContain(`parameters('${name}')`);
    for (const name of Object.keys(template.variables)) expect(text).toContain(`variables('${name}')`);
  });

  it('depends only on resources it declares', () => {
    const { evaluator } = deploy('eventHubs');
    const all = template.resources.map((resource) => evaluator.evaluate(resource) as Block);
    const ids = new Set(
      all.map((resource) =>
        (typeof resource['scope'] === 'string'
          ? `${RESOURCE_GROUP_ID}/providers/${resource['scope']}/providers/${resource['type']}/${resource['name']}`
          : resourceId(String(resource['type']), String(resource['name']).split('/'))
        ).toLowerCase(),
      ),
    );
    for (const resource of all)
      for (const dependency of (resource['dependsOn'] as string[] | undefined) ?? [])
        expect({ dependency, declared: ids.has(dependency.toLowerCase()) }).toEqual({
          dependency,
          declared: true,
        });
  });

  it.each([
    ['eventHubs', 'EVENTHUB_CONNECTION', 'STREAM_EVENTHUB_NAME', 'Microsoft.EventHub/namespaces/eventhubs'],
    [
      'serviceBus',
      'SERVICEBUS_CONNECTION',
      'STREAM_SERVICEBUS_QUEUE',
      'Microsoft.ServiceBus/namespaces/queues',
    ],
  ] as const)(
    '%s: the trigger the entry registers reads the template’s entity with the app’s identity',
    (source, connection, nameSetting, entityType) => {
      const { settings, ofType, variable } = deploy(source);
      // The connection and the setting naming the entity, as functions/azure/stream.ts registers them.
      expect(entrySource).toContain(`connection: '${connection}'`);
      expect(entrySource).toContain(`if (process.env['${nameSetting}'])`);
      const namespace = variable(source === 'eventHubs' ? 'eventHubsName' : 'serviceBusName');
      expect(settings).toMatchObject({
        [`${connection}__fullyQualifiedNamespace`]: `${namespace}.servicebus.windows.net`,
        [`${connection}__credential`]: 'managedidentity',
        [`${connection}__clientId`]: expect.stringMatching(
          /^<reference .*userAssignedIdentities\/modelfleet-stream-id clientId>$/,
        ),
      });
      expect(settings[connection]).toBeUndefined(); // no connection string: the identity reads
      const entity = `${namespace}/${settings[nameSetting]}`;
      expect(ofType(entityType).map((resource) => resource['name'])).toContain(entity);
      // The other trigger is not registered (its setting is absent) and its namespace not deployed.
      const other = source === 'eventHubs' ? 'STREAM_SERVICEBUS_QUEUE' : 'STREAM_EVENTHUB_NAME';
      expect(settings[other]).toBeUndefined();
      expect(
        ofType(
          source === 'eventHubs'
            ? 'Microsoft.ServiceBus/namespaces'
            : 'Microsoft.EventHub/namespaces/consumergroups',
        ),
      ).toEqual([]);
      if (source === 'eventHubs') {
        expect(entrySource).toContain("consumerGroup: '%STREAM_EVENTHUB_CONSUMER_GROUP%'");
        expect(
          ofType('Microsoft.EventHub/namespaces/eventhubs/consumergroups').map((g) => g['name']),
        ).toEqual([`${entity}/${settings['STREAM_EVENTHUB_CONSUMER_GROUP']}`]);
      } else {
        const [queue] = ofType('Microsoft.ServiceBus/namespaces/queues');
        expect(queue?.['properties']).toMatchObject({
          maxDeliveryCount: 5,
          deadLetteringOnMessageExpiration: true,
        });
        const [bus] = ofType('Microsoft.ServiceBus/namespaces');
        expect(bus?.['properties']).toMatchObject({ disableLocalAuth: true });
      }
    },
  );

  it.each(['eventHubs', 'serviceBus'] as const)(
    '%s: the app starts with its settings; results and dead letters go to send-only hubs',
    (source) => {
      const { settings, resolved, ofType, variable } = deploy(source);
      const { config, settings: stream } = expectStartable(resolved, isPlatformSetting, entrySource);
      expect(config).toMatchObject({ stage: 'prod', repository: 'az://modelfleetmx/models/models' });
      const host = `${variable('eventHubsName')}.servicebus.windows.net`;
      expect(stream).toMatchObject({
        defaults: { format: 'auto', stage: 'prod' },
        sink: { kind: 'eventhub', connection: { host, hub: 'results', keyName: 'modelfleet-send' } },
        deadLetter: {
          kind: 'eventhub',
          connection: { host, hub: 'dead-letters', keyName: 'modelfleet-send' },
        },
      });
      // The key reaches the app only through Key Vault, never as a plain setting.
      expect(JSON.stringify(settings)).not.toContain(ACCOUNT_KEY_SENTINEL);
      expect(settings['STREAM_SINK']).toMatch(/^@Microsoft\.KeyVault\(/);
      const rules = ofType('Microsoft.EventHub/namespaces/eventhubs/authorizationRules');
      expect(rules.map((rule) => [rule['name'], (rule['properties'] as Block)['rights']])).toEqual([
        [`${variable('eventHubsName')}/results/modelfleet-send`, ['Send']],
        [`${variable('eventHubsName')}/dead-letters/modelfleet-send`, ['Send']],
      ]);
      const [site] = ofType('Microsoft.Web/sites');
      expect(site?.['properties']).toMatchObject({
        httpsOnly: true,
        keyVaultReferenceIdentity: resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', [
          'modelfleet-stream-id',
        ]),
      });
    },
  );

  it.each([
    ['eventHubs', 'Azure Event Hubs Data Receiver on Microsoft.EventHub/namespaces/{ns}/eventhubs/records'],
    ['serviceBus', 'Azure Service Bus Data Receiver on Microsoft.ServiceBus/namespaces/{ns}/queues/records'],
  ] as const)(
    '%s: role assignments scoped to one entity, account, container or secret each',
    (source, receiver) => {
      const { roles, variable } = deploy(source);
      const ns = variable(source === 'eventHubs' ? 'eventHubsName' : 'serviceBusName');
      const vault = variable('vaultName');
      expect(roles.sort()).toEqual(
        [
          `Storage Blob Data Owner on Microsoft.Storage/storageAccounts/${variable('storageName')}`,
          'Storage Blob Data Reader on Microsoft.Storage/storageAccounts/modelfleetmx/blobServices/default/containers/models',
          receiver.replace('{ns}', ns),
          `Key Vault Secrets User on Microsoft.KeyVault/vaults/${vault}/secrets/stream-sink`,
          `Key Vault Secrets User on Microsoft.KeyVault/vaults/${vault}/secrets/stream-dead-letter`,
        ].sort(),
      );
    },
  );
});
