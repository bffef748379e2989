// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Terraform and Workflows interpolations, not JavaScript templates
/**
 * The batch templates checked offline like the main ones: infra/gcp/batch/main.tf (terraform fmt,
 * HCL parsed by @cdktf/hcl2json in a child process) and infra/azure/batch.json (ARM JSON).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/processes';

type Block = Record<string, unknown>;
const GCP_FILE = path.join(ROOT, 'infra', 'gcp', 'batch', 'main.tf');

function parseHcl(): Block {
  const run = spawnSync(process.execPath, [path.join(__dirname, 'support', 'hcl-to-json.cjs'), GCP_FILE], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`hcl2json failed: ${run.stderr}`);
  return (JSON.parse(run.stdout) as Record<string, Block>)['main.tf'] as Block;
}

describe('GCP batch module (infra/gcp/batch/main.tf)', () => {
  const hcl = parseHcl();
  const resources = hcl['resource'] as Record<string, Record<string, Block[]>>;
  const one = (type: string, name: string): Block => {
    const block = resources[type]?.[name]?.[0];
    if (block === undefined) throw new Error(`no ${type}.${name}`);
    return block;
  };

  it('is formatted as terraform fmt wants (when terraform is installed)', () => {
    const fmt = spawnSync('terraform', ['fmt', '-check', GCP_FILE], { encoding: 'utf8' });
    if (fmt.error !== undefined) return; // not installed: CI images without terraform
    expect({ status: fmt.status, out: fmt.stdout }).toEqual({ status: 0, out: '' });
  });

  it('runs target modelfleetBatch, reachable only inside the project, with the batch settings', () => {
    const fn = one('google_cloudfunctions2_function', 'batch');
    expect(JSON.stringify(fn['build_config'])).toContain('"entry_point":"modelfleetBatch"');
    const service = (fn['service_config'] as Block[])[0] as Block;
    expect(service['ingress_settings']).toBe('ALLOW_INTERNAL_ONLY');
    expect(Object.keys((service['environment_variables'] as Block) ?? {}).sort()).toEqual(
      [
        'BATCH_CHUNK_BYTES',
        'BATCH_MODEL',
        'BATCH_OUTPUT',
        'BATCH_SMALL_OBJECT_BYTES',
        'MODELFLEET_STAGE',
        'MODEL_REPOSITORY',
      ].sort(),
    );
  });

  it('the workflow: incoming/ only, small objects whole, else plan → parallel for over the chunks → finish', () => {
    const source = String(one('google_workflows_workflow', 'batch')['source_contents']);
    for (const step of ['plan', 'chunk', 'finish', 'whole'])
      expect(source).toContain(`body: { step: ${step},`);
    expect(source).toContain('not text.match_regex(name, "^incoming/")');
    expect(source).toContain('size < ${var.small_object_bytes}');
    expect(source).toMatch(
      /parallel:\s+concurrency_limit: \$\{var\.max_parallel\}\s+for:\s+value: index\s+range: \$\$\{\[0, planned\.body\.chunks - 1\]\}/,
    );
    expect(source.match(/auth: \{ type: OIDC \}/g)?.length).toBe(4);
    const trigger = one('google_eventarc_trigger', 'object_finalized');
    expect(JSON.stringify(trigger['matching_criteria'])).toContain(
      'google.cloud.storage.object.v1.finalized',
    );
    expect(JSON.stringify(trigger['destination'])).toContain('google_workflows_workflow.batch.id');
  });

  it('grants each identity only its roles, none basic or admin', () => {
    const grants = Object.entries(resources)
      .filter(([type]) => type.endsWith('_iam_member'))
      .flatMap(([type, byName]) =>
        Object.entries(byName).map(
          ([name, [block]]) =>
            `${type}.${name} ${String((block as Block)['role'])} ${String((block as Block)['member'])}`,
        ),
      );
    expect(grants.sort()).toEqual(
      [
        'google_cloud_run_service_iam_member.workflow_invokes_function roles/run.invoker serviceAccount:${google_service_account.workflow.email}',
        'google_project_iam_member.gcs_publishes_events roles/pubsub.publisher serviceAccount:${data.google_storage_project_service_account.gcs.email_address}',
        'google_project_iam_member.trigger_receives_events roles/eventarc.eventReceiver serviceAccount:${google_service_account.trigger.email}',
        'google_project_iam_member.trigger_starts_workflow roles/workflows.invoker serviceAccount:${google_service_account.trigger.email}',
        'google_storage_bucket_iam_member.function_reads_models roles/storage.objectViewer serviceAccount:${google_service_account.function.email}',
        'google_storage_bucket_iam_member.function_uses_batch roles/storage.objectUser serviceAccount:${google_service_account.function.email}',
      ].sort(),
    );
    const bucket = one('google_storage_bucket', 'batch');
    expect(bucket).toMatchObject({ uniform_bucket_level_access: true, public_access_prevention: 'enforced' });
  });

  it('declares every variable it uses, each with a description', () => {
    const declared = hcl['variable'] as Record<string, Block[]>;
    const text = readFileSync(GCP_FILE, 'utf8');
    const used = new Set([...text.matchAll(/var\.([a-z_]+)/g)].map((match) => match[1]));
    expect([...used].sort()).toEqual(Object.keys(declared).sort());
    for (const [name, [block]] of Object.entries(declared))
      expect({ name, described: typeof (block as Block)['description'] }).toEqual({
        name,
        described: 'string',
      });
  });
});

describe('Azure batch template (infra/azure/batch.json)', () => {
  const template = JSON.parse(readFileSync(path.join(ROOT, 'infra', 'azure', 'batch.json'), 'utf8')) as {
    parameters: Record<string, unknown>;
    variables: Record<string, unknown> & { roles: Record<string, string> };
    resources: Block[];
  };
  const ofType = (type: string) => template.resources.filter((resource) => resource['type'] === type);

  it('sends BlobCreated under incoming/ to the jobs queue with the topic identity, nothing else', () => {
    const [subscription] = ofType('Microsoft.EventGrid/systemTopics/eventSubscriptions');
    expect(subscription?.['properties']).toMatchObject({
      filter: {
        includedEventTypes: ['Microsoft.Storage.BlobCreated'],
        subjectBeginsWith:
          "[format('/blobServices/default/containers/{0}/blobs/incoming/', variables('container'))]",
      },
      deliveryWithResourceIdentity: {
        identity: { type: 'SystemAssigned' },
        destination: { endpointType: 'StorageQueue', properties: { queueName: "[variables('jobsQueue')]" } },
      },
    });
    // The queue names the function app listens on (functions/azure/batch.ts).
    expect(template.variables['jobsQueue']).toBe('batch-jobs');
    expect(template.variables['chunksQueue']).toBe('batch-chunks');
    const code = readFileSync(path.join(ROOT, 'functions', 'azure', 'batch.ts'), 'utf8');
    expect(code).toContain("queueName: 'batch-jobs'");
    expect(code).toContain("queueName: 'batch-chunks'");
  });

  it('scopes every role assignment to one account, container or queue, never the resource group', () => {
    const assignments = ofType('Microsoft.Authorization/roleAssignments');
    expect(assignments.length).toBe(5);
    const roleNames = Object.fromEntries(
      Object.entries(template.variables.roles).map(([name, id]) => [id, name]),
    );
    const summary = assignments.map((assignment) => {
      const role = /variables\('roles'\)\.(\w+)/.exec(
        String((assignment['properties'] as Block)['roleDefinitionId']),
      )?.[1];
      return `${role} ${String(assignment['scope']).replace(/\[format\('([^']*)'.*/, '$1')}`;
    });
    expect(summary.sort()).toEqual(
      [
        'storageBlobDataOwner Microsoft.Storage/storageAccounts/{0}',
        'storageBlobDataReader Microsoft.Storage/storageAccounts/{0}/blobServices/default/containers/{1}',
        'storageQueueDataContributor Microsoft.Storage/storageAccounts/{0}/queueServices/default/queues/{1}',
        'storageQueueDataContributor Microsoft.Storage/storageAccounts/{0}/queueServices/default/queues/{1}',
        'storageQueueDataMessageSender Microsoft.Storage/storageAccounts/{0}/queueServices/default/queues/{1}',
      ].sort(),
    );
    expect(Object.keys(roleNames)).toHaveLength(4);
    const [account] = ofType('Microsoft.Storage/storageAccounts');
    expect(account?.['properties']).toMatchObject({
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
    });
  });

  it('configures the batch app with identity-based connections and the batch settings', () => {
    const [site = {}] = ofType('Microsoft.Web/sites');
    const settings = Object.fromEntries(
      (
        (site['properties'] as Block)['siteConfig'] as {
          appSettings: { name: string; value: string }[];
        }
      ).appSettings.map((s) => [s.name, s.value]),
    );
    expect(settings).toMatchObject({
      BATCH_QUEUE_CONNECTION__credential: 'managedidentity',
      AzureWebJobsStorage__credential: 'managedidentity',
      BATCH_MODEL: "[parameters('batchModel')]",
      BATCH_OUTPUT: "[format('az://{0}/{1}/predictions', variables('storageName'), variables('container'))]",
    });
    expect(JSON.stringify(settings)).not.toMatch(/AccountKey|SharedAccessSignature/);
  });
});
