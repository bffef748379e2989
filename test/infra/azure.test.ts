import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseGuardSettings } from '../../shared/config/guard';
import { hashApiKey } from '../../shared/security/api-keys';
import { toAzureLogRecord } from '../../shared/telemetry/metric-formats';
import { successEvent } from '../support/metric-events';
import { ROOT } from '../support/processes';
import { ACCOUNT_KEY_SENTINEL, ArmEvaluator, RESOURCE_GROUP_ID, resourceId } from './arm';

/**
 * infra/azure/main.json checked offline, as Resource Manager would evaluate it (test/infra/arm.ts):
 * no Bicep compiler installs here, so the template is ARM JSON (infra/azure/README.md says why).
 */
const TEMPLATE_FILE = path.join(ROOT, 'infra', 'azure', 'main.json');
const raw = readFileSync(TEMPLATE_FILE, 'utf8');
const template = JSON.parse(raw) as {
  $schema: string;
  parameters: Record<string, { type: string; defaultValue?: unknown }>;
  variables: Record<string, unknown>;
  resources: Record<string, unknown>[];
  outputs: Record<string, { value: unknown }>;
};

const API_KEY_HASHES = `ops:predict:${hashApiKey('azure-template-test-key')}`;
const PARAMETERS = { apiKeyHashes: API_KEY_HASHES, operatorEmail: 'oncall@example.com' };

// Built-in role definition ids (the same in every Azure cloud).
const ROLE_NAMES: Record<string, string> = {
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': 'Storage Blob Data Reader',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
  '73c42c96-874c-492b-b04d-ab87d138a893': 'Log Analytics Reader',
};
const FORBIDDEN_ROLES: Record<string, string> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  '17d1049b-9a84-46fb-8f53-869881c3d3ab': 'Storage Account Contributor',
  'de139f84-1756-47ae-9be6-808fbbe84772': 'Website Contributor',
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': 'Key Vault Administrator',
};

interface Evaluated {
  type: string;
  name: string;
  id: string;
  raw: Record<string, unknown>;
  props: Record<string, unknown>;
  body: Record<string, unknown>;
}

let resources: Evaluated[];
let evaluator: ArmEvaluator;

function fullScope(scope: string): string {
  return scope.startsWith('/') ? scope : `${RESOURCE_GROUP_ID}/providers/${scope}`;
}

beforeAll(() => {
  evaluator = new ArmEvaluator(template, PARAMETERS);
  resources = template.resources.map((resource) => {
    const body = evaluator.evaluate(resource) as Record<string, unknown>;
    const type = String(body['type']);
    const name = String(body['name']);
    const id =
      typeof body['scope'] === 'string'
        ? `${fullScope(body['scope'])}/providers/${type}/${name}`
        : resourceId(type, name.split('/'));
    return {
      type,
      name,
      id,
      raw: resource,
      props: (body['properties'] ?? {}) as Record<string, unknown>,
      body,
    };
  });
});

function ofType(type: string): Evaluated[] {
  return resources.filter((resource) => resource.type === type);
}

function only(type: string, test: (resource: Evaluated) => boolean = () => true): Evaluated {
  const found = ofType(type).filter(test);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as Evaluated;
}

function variable(name: string): string {
  return String(evaluator.expression(`variables('${name}')`));
}

function site(name: string): Evaluated {
  return only('Microsoft.Web/sites', (resource) => resource.name === name);
}

function settingsOf(resource: Evaluated): Record<string, string> {
  const siteConfig = resource.props['siteConfig'] as { appSettings: { name: string; value: string }[] };
  return Object.fromEntries(siteConfig.appSettings.map(({ name, value }) => [name, String(value)]));
}

const identityId = (which: 'app' | 'guard') =>
  resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', [
    variable(which === 'app' ? 'appIdentityName' : 'guardIdentityName'),
  ]);

describe('the template evaluates', () => {
  it('is a resource-group deployment template whose resources all have a type, version and name', () => {
    expect(template.$schema).toBe(
      'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    );
    for (const resource of template.resources) {
      expect(resource['type']).toMatch(/^Microsoft\.[A-Za-z]+\/[A-Za-z/]+$/);
      expect(resource['apiVersion']).toMatch(/^\d{4}-\d{2}-\d{2}(-preview)?$/);
      expect(typeof resource['name']).toBe('string');
    }
  });

  it('uses only known functions, declared parameters and variables, and consistent resource ids', () => {
    // beforeAll evaluated every resource; outputs too, and every variable:
    for (const output of Object.values(template.outputs))
      expect(() => evaluator.evaluate(output.value)).not.toThrow();
    for (const name of Object.keys(template.variables)) expect(() => variable(name)).not.toThrow();
    expect(() => evaluator.expression("nosuchfunction('x')")).toThrow('unknown ARM function');
    expect(() => evaluator.expression("resourceId('Microsoft.Web/sites/slots', 'only-one')")).toThrow(
      'needs 2 name segments',
    );
  });

  it('uses every parameter and variable it declares', () => {
    const text = JSON.stringify({ ...template, parameters: undefined });
    for (const name of Object.keys(template.parameters)) expect(text).toContain(`parameters('${name}')`);
    for (const name of Object.keys(template.variables)) expect(text).toContain(`variables('${name}')`);
  });

  it('depends only on resources it declares', () => {
    const ids = new Set(resources.map((resource) => resource.id.toLowerCase()));
    for (const resource of resources) {
      for (const dependency of (resource.body['dependsOn'] ?? []) as string[]) {
        expect({ of: resource.name, dependency, known: ids.has(dependency.toLowerCase()) }).toEqual({
          of: resource.name,
          dependency,
          known: true,
        });
      }
    }
  });

  it('keeps storage account names valid (3-24 lower-case letters and digits)', () => {
    for (const account of ofType('Microsoft.Storage/storageAccounts'))
      expect(account.name).toMatch(/^[a-z0-9]{3,24}$/);
    expect(variable('vaultName')).toMatch(/^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/);
  });
});

describe('identities are least-privilege', () => {
  it('grants no Owner, Contributor, admin or data-owner role anywhere', () => {
    for (const [id, name] of Object.entries(FORBIDDEN_ROLES))
      expect({ name, found: raw.includes(id) }).toEqual({ name, found: false });
    // No custom role (where an `actions: ["*"]` would hide): built-in data-plane roles only.
    expect(ofType('Microsoft.Authorization/roleDefinitions')).toEqual([]);
  });

  it('gives each identity exactly its roles, each on the narrowest scope', () => {
    const modelsAccount = variable('modelStorageName');
    const grants = ofType('Microsoft.Authorization/roleAssignments').map(({ body, props }) => {
      const principal = String(props['principalId']);
      const who = principal.includes(identityId('app'))
        ? 'app'
        : principal.includes(identityId('guard'))
          ? 'guard'
          : principal;
      const roleId = String(props['roleDefinitionId']).split('/').pop() ?? '';
      const scope = String(body['scope'])
        .replace(modelsAccount, '<models>')
        .replace(variable('hostStorageName'), '<host>')
        .replace(variable('vaultName'), '<vault>')
        .replace(variable('insightsName'), '<insights>')
        .replace(variable('workspaceName'), '<logs>');
      expect(principal).toMatch(/principalId>$/);
      return `${who}: ${ROLE_NAMES[roleId] ?? roleId} on ${scope}`;
    });
    expect(grants.sort()).toEqual(
      [
        'app: Storage Blob Data Reader on Microsoft.Storage/storageAccounts/<models>/blobServices/default/containers/models',
        'guard: Storage Blob Data Contributor on Microsoft.Storage/storageAccounts/<models>/blobServices/default/containers/models',
        'app: Storage Blob Data Contributor on Microsoft.Storage/storageAccounts/<host>',
        'guard: Storage Blob Data Contributor on Microsoft.Storage/storageAccounts/<host>',
        'app: Key Vault Secrets User on Microsoft.KeyVault/vaults/<vault>/secrets/api-keys',
        'app: Key Vault Secrets User on Microsoft.KeyVault/vaults/<vault>/secrets/host-content-connection',
        'guard: Key Vault Secrets User on Microsoft.KeyVault/vaults/<vault>/secrets/host-content-connection',
        'app: Monitoring Metrics Publisher on Microsoft.Insights/components/<insights>',
        'guard: Monitoring Metrics Publisher on Microsoft.Insights/components/<insights>',
        'guard: Log Analytics Reader on Microsoft.OperationalInsights/workspaces/<logs>',
      ].sort(),
    );
  });

  it('runs each app under its own user-assigned identity, also for Key Vault references', () => {
    for (const [resource, which] of [
      [site(variable('appName')), 'app'],
      [only('Microsoft.Web/sites/slots'), 'app'],
      [site(variable('guardName')), 'guard'],
    ] as const) {
      expect(resource.body['identity']).toEqual({
        type: 'UserAssigned',
        userAssignedIdentities: { [identityId(which)]: {} },
      });
      expect(resource.props['keyVaultReferenceIdentity']).toBe(identityId(which));
      const settings = settingsOf(resource);
      // DefaultAzureCredential (shared/store/azure-store.ts) picks the identity by this id.
      expect(settings['AZURE_CLIENT_ID']).toBe(`<reference ${identityId(which)} clientId>`);
      expect(settings['AzureWebJobsStorage__clientId']).toBe(`<reference ${identityId(which)} clientId>`);
    }
  });
});

describe('storage', () => {
  it('allows no public blob access on any account, TLS 1.2 and HTTPS only', () => {
    const accounts = ofType('Microsoft.Storage/storageAccounts');
    expect(accounts).toHaveLength(2);
    for (const { props } of accounts) {
      expect(props).toMatchObject({
        allowBlobPublicAccess: false,
        minimumTlsVersion: 'TLS1_2',
        supportsHttpsTrafficOnly: true,
      });
    }
    for (const { props } of ofType('Microsoft.Storage/storageAccounts/blobServices/containers')) {
      expect(props['publicAccess']).toBe('None');
    }
  });

  it('reads the model repository by identity only, versioned with soft delete', () => {
    const models = only(
      'Microsoft.Storage/storageAccounts',
      (account) => account.name === variable('modelStorageName'),
    );
    expect(models.props['allowSharedKeyAccess']).toBe(false);
    const blobs = only('Microsoft.Storage/storageAccounts/blobServices');
    expect(blobs.name).toBe(`${variable('modelStorageName')}/default`);
    expect(blobs.props).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true },
    });
    expect(variable('repository')).toBe(`az://${variable('modelStorageName')}/models/models`);
    expect(settingsOf(site(variable('appName')))['MODEL_REPOSITORY']).toBe(variable('repository'));
  });
});

describe('the guard app', () => {
  it('has every setting the guard reads: parseGuardSettings accepts its app settings as they are', () => {
    const settings = settingsOf(site(variable('guardName')));
    // The platform adds the identity endpoint; the template's values are ARM expressions.
    const parsed = parseGuardSettings(
      { ...settings, IDENTITY_ENDPOINT: 'http://127.0.0.1:1' },
      'log-analytics',
    );
    expect(parsed.metrics).toMatchObject({ kind: 'log-analytics' });
    expect(parsed.stage).toBe(settings['MODELFLEET_STAGE']);
  });
});

describe('secrets', () => {
  const SECRET_NAME = /KEY|SECRET|PASSWORD|CONNECTION|TOKEN|SAS/i;
  // Not secrets: the App Insights connection string only names where to send (local auth is off,
  // ingestion needs the identity's token), the auth string only names the identity.
  const NOT_SECRET = ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'];

  it('puts no secret in a plain app setting: Key Vault references only', () => {
    for (const resource of [...ofType('Microsoft.Web/sites'), ...ofType('Microsoft.Web/sites/slots')]) {
      for (const [name, value] of Object.entries(settingsOf(resource))) {
        if (!SECRET_NAME.test(name) || NOT_SECRET.includes(name)) continue;
        expect({ site: resource.name, name, value }).toEqual({
          site: resource.name,
          name,
          value: expect.stringMatching(/^@Microsoft\.KeyVault\(VaultName=[^;]+;SecretName=[a-z-]+\)$/),
        });
      }
    }
    expect(settingsOf(site(variable('appName')))['API_KEYS']).toBe(
      `@Microsoft.KeyVault(VaultName=${variable('vaultName')};SecretName=api-keys)`,
    );
    expect(settingsOf(site(variable('guardName')))['API_KEYS']).toBeUndefined();
    const insights = only('Microsoft.Insights/components');
    expect(insights.props['DisableLocalAuth']).toBe(true);
    expect(settingsOf(site(variable('appName')))['APPLICATIONINSIGHTS_AUTHENTICATION_STRING']).toMatch(
      /^Authorization=AAD;ClientId=/,
    );
  });

  it('keeps the account key and the key hashes inside Key Vault secrets, nowhere else', () => {
    const secrets = ofType('Microsoft.KeyVault/vaults/secrets');
    expect(secrets.map((secret) => secret.name.split('/')[1]).sort()).toEqual([
      'api-keys',
      'host-content-connection',
    ]);
    for (const resource of resources) {
      const text = JSON.stringify(resource.body);
      const isSecret = resource.type === 'Microsoft.KeyVault/vaults/secrets';
      expect({
        resource: resource.name,
        leaks: !isSecret && (text.includes(ACCOUNT_KEY_SENTINEL) || text.includes(API_KEY_HASHES)),
      }).toEqual({
        resource: resource.name,
        leaks: false,
      });
    }
    const outputs = JSON.stringify(
      evaluator.evaluate(Object.values(template.outputs).map((output) => output.value)),
    );
    expect(outputs).not.toContain(ACCOUNT_KEY_SENTINEL);
    expect(template.parameters['apiKeyHashes']?.type).toBe('securestring');
    const vault = only('Microsoft.KeyVault/vaults');
    expect(vault.props).toMatchObject({ enableRbacAuthorization: true, enablePurgeProtection: true });
  });
});

describe('hosting, scale and code rollout', () => {
  it('runs on an Elastic Premium plan with a scale ceiling, always-ready instances and a per-app limit', () => {
    const plan = only('Microsoft.Web/serverfarms');
    expect(plan.body['sku']).toMatchObject({
      tier: 'ElasticPremium',
      name: expect.stringMatching(/^EP[123]$/),
    });
    expect(plan.props).toMatchObject({ reserved: true, maximumElasticWorkerCount: 20 });
    const siteConfig = site(variable('appName')).props['siteConfig'] as Record<string, unknown>;
    expect(siteConfig['minimumElasticInstanceCount']).toBeGreaterThanOrEqual(1);
    expect(siteConfig['functionAppScaleLimit']).toBe(plan.props['maximumElasticWorkerCount']);
    expect(siteConfig).toMatchObject({
      linuxFxVersion: 'NODE|22',
      ftpsState: 'Disabled',
      minTlsVersion: '1.2',
    });
    const guardConfig = site(variable('guardName')).props['siteConfig'] as Record<string, unknown>;
    expect(guardConfig['functionAppScaleLimit']).toBe(1);
  });

  it('has a staging slot that takes canaryPercent of production traffic (0 unless a canary runs)', () => {
    const slot = only('Microsoft.Web/sites/slots');
    expect(slot.name).toBe(`${variable('appName')}/staging`);
    const experiments = (site(variable('appName')).props['siteConfig'] as Record<string, unknown>)[
      'experiments'
    ];
    expect(experiments).toEqual({
      rampUpRules: [
        {
          name: 'staging',
          actionHostName: `${variable('appName')}-staging.azurewebsites.net`,
          reroutePercentage: 0,
        },
      ],
    });
    // Code moves with a swap, the content share stays with its slot.
    const sticky = only('Microsoft.Web/sites/config', (config) => config.name.endsWith('/slotConfigNames'));
    expect(sticky.props['appSettingNames']).toEqual(['WEBSITE_CONTENTSHARE']);
    const shares = [site(variable('appName')), slot, site(variable('guardName'))].map(
      (resource) => settingsOf(resource)['WEBSITE_CONTENTSHARE'],
    );
    expect(new Set(shares).size).toBe(3);
    const declaredShares = ofType('Microsoft.Storage/storageAccounts/fileServices/shares').map(
      (share) => share.name.split('/')[2],
    );
    expect(declaredShares.sort()).toEqual([...shares].sort());
    expect(settingsOf(slot)['WEBSITE_RUN_FROM_PACKAGE']).toBe('1');
  });

  it('accepts no basic-auth deployment and serves HTTPS only', () => {
    const policies = ofType('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((policy) => policy.name).sort()).toEqual(
      [
        `${variable('appName')}/ftp`,
        `${variable('appName')}/scm`,
        `${variable('guardName')}/ftp`,
        `${variable('guardName')}/scm`,
      ].sort(),
    );
    for (const policy of policies) expect(policy.props['allow']).toBe(false);
    for (const resource of [...ofType('Microsoft.Web/sites'), ...ofType('Microsoft.Web/sites/slots')]) {
      expect(resource.props['httpsOnly']).toBe(true);
    }
  });
});

describe('alerts are wired to actions', () => {
  const rollbackGroupId = () => resourceId('Microsoft.Insights/actionGroups', ['modelfleet-rollback']);
  const operatorGroupId = () => resourceId('Microsoft.Insights/actionGroups', ['modelfleet-operators']);

  it('sends rollout alerts to the rollback action group (the guard app), and drift to a person', () => {
    const rules = ofType('Microsoft.Insights/scheduledQueryRules');
    expect(rules.map((rule) => rule.name).sort()).toEqual([
      'modelfleet-variant-drift',
      'modelfleet-variant-error-rate',
      'modelfleet-variant-latency-p99',
    ]);
    for (const rule of rules) {
      expect(rule.props).toMatchObject({
        enabled: true,
        scopes: [resourceId('Microsoft.OperationalInsights/workspaces', [variable('workspaceName')])],
      });
      // Drift is about the data, not the version rolled out: a person is told, nothing rolls back.
      const group = rule.name === 'modelfleet-variant-drift' ? operatorGroupId() : rollbackGroupId();
      expect((rule.props['actions'] as { actionGroups: string[] }).actionGroups).toEqual([group]);
      const [criterion] = (rule.props['criteria'] as { allOf: Record<string, unknown>[] }).allOf;
      const dimensions = (criterion?.['dimensions'] ?? []) as { name: string }[];
      expect(dimensions.map((d) => d.name)).toEqual(['model', 'variant', 'version']);
    }
    const drift = only(
      'Microsoft.Insights/scheduledQueryRules',
      (rule) => rule.name === 'modelfleet-variant-drift',
    );
    const [criterion] = (drift.props['criteria'] as { allOf: Record<string, unknown>[] }).allOf;
    // The threshold is a number (ARM has no decimal parameter: json() of the text).
    expect(criterion).toMatchObject({
      operator: 'GreaterThanOrEqual',
      threshold: 0.2,
      metricMeasureColumn: 'maxPsi',
    });
    const rollback = only('Microsoft.Insights/actionGroups', (group) => group.id === rollbackGroupId());
    expect(rollback.props['enabled']).toBe(true);
    expect(rollback.props['azureFunctionReceivers']).toEqual([
      expect.objectContaining({
        functionAppResourceId: resourceId('Microsoft.Web/sites', [variable('guardName')]),
        functionName: 'modelfleetGuardAlert',
        useCommonAlertSchema: true,
      }),
    ]);
  });

  it('sends the staging slot’s server errors (code canary) to a person', () => {
    const alert = only('Microsoft.Insights/metricAlerts');
    expect(alert.props['scopes']).toEqual([
      resourceId('Microsoft.Web/sites/slots', [variable('appName'), 'staging']),
    ]);
    expect(alert.props['actions']).toEqual([{ actionGroupId: operatorGroupId() }]);
    const operators = only('Microsoft.Insights/actionGroups', (group) => group.id === operatorGroupId());
    expect(operators.props['emailReceivers']).toEqual([
      expect.objectContaining({ emailAddress: 'oncall@example.com' }),
    ]);
  });

  it('queries fields that the Azure adapter’s records carry', () => {
    const warm = { ...successEvent, coldStart: false, stage: 'prod' };
    const drifted = { ...warm, driftPsi: { tenure: 0.31 }, driftPsiMax: 0.31 };
    for (const [name, event] of [
      ['variantErrorQuery', warm],
      ['variantLatencyQuery', warm],
      ['variantDriftQuery', drifted],
    ] as const) {
      const { record } = toAzureLogRecord(event);
      const message = JSON.stringify(record);
      const query = variable(name);
      expect(query).toContain('where Message has "modelfleet.request"');
      expect(message).toContain('modelfleet.request');
      expect(query).toContain('tostring(record.event) == "modelfleet.request"');
      expect(record.event).toBe('modelfleet.request');
      expect(query).toContain('tostring(record.properties.stage) == "prod"');
      const paths = [...query.matchAll(/record\.(properties|measurements)\.([A-Za-z]+)/g)];
      expect(paths.length).toBeGreaterThan(3);
      for (const [, group, field] of paths) {
        expect({
          field: `${group}.${field}`,
          present: field !== undefined && field in record[group as 'properties'],
        }).toEqual({
          field: `${group}.${field}`,
          present: true,
        });
      }
    }
    const { record } = toAzureLogRecord(warm);
    expect(variable('variantDriftQuery')).toContain('isnotnull(record.measurements.driftPSIMax)');
    expect('driftPSIMax' in record.measurements).toBe(false);
    expect(variable('variantLatencyQuery')).toContain('tostring(record.properties.coldStart) == "false"');
    expect(record.properties['coldStart']).toBe('false');
    // The alert reads the column the query computes.
    for (const rule of ofType('Microsoft.Insights/scheduledQueryRules')) {
      const [criterion] = (
        rule.props['criteria'] as { allOf: { query: string; metricMeasureColumn: string }[] }
      ).allOf;
      expect(criterion?.query).toMatch(new RegExp(`\\b${criterion?.metricMeasureColumn} = `));
    }
  });
});
