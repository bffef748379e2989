import { createHash } from 'node:crypto';

/**
 * A small evaluator for the ARM template expressions infra/azure/main.json and stream.json use, so the test can
 * check the template as Azure Resource Manager would see it (names, ids, dependsOn, settings)
 * without a Bicep compiler or an Azure call. Unknown functions are errors: a typo fails the test.
 * Values Azure only knows at deploy time (reference(), listKeys()) become recognisable sentinels.
 */
export const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
export const RESOURCE_GROUP_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/modelfleet-test`;
/** What listKeys() returns here: a setting or output that contains it leaks an account key. */
export const ACCOUNT_KEY_SENTINEL = 'LISTKEYS-ACCOUNT-KEY';

type Value = unknown;
type Template = {
  parameters: Record<string, { type: string; defaultValue?: unknown }>;
  variables: Record<string, unknown>;
};

export class ArmEvaluator {
  private readonly variableCache = new Map<string, Value>();

  constructor(
    private readonly template: Template,
    private readonly parameterValues: Record<string, unknown>,
  ) {}

  /** Evaluates every "[...]" string inside a JSON value; "[[" is a literal "[". */
  evaluate(value: Value): Value {
    if (typeof value === 'string') {
      if (value.startsWith('[[')) return value.slice(1);
      if (value.startsWith('[') && value.endsWith(']')) return this.expression(value.slice(1, -1));
      return value;
    }
    if (Array.isArray(value)) return value.map((item) => this.evaluate(item));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [String(this.evaluate(key)), this.evaluate(item)]),
      );
    }
    return value;
  }

  expression(text: string): Value {
    const parser = new Parser(text);
    const node = parser.parse();
    return this.run(node);
  }

  private run(node: Node): Value {
    switch (node.kind) {
      case 'string':
      case 'number':
        return node.value;
      case 'member': {
        const target = this.run(node.target) as Record<string, Value> | undefined;
        const key = typeof node.key === 'string' ? node.key : (this.run(node.key) as string | number);
        if (target === undefined || target === null) throw new Error(`cannot read ${key} of nothing`);
        return (target as Record<string | number, Value>)[key];
      }
      case 'call':
        return this.call(
          node.name,
          node.args.map((arg) => this.run(arg)),
        );
    }
  }

  private call(name: string, args: Value[]): Value {
    const fn = name.toLowerCase();
    const str = (index: number) => String(args[index]);
    switch (fn) {
      case 'parameters': {
        const key = str(0);
        const declared = this.template.parameters[key];
        if (declared === undefined) throw new Error(`parameters('${key}') is not declared`);
        if (key in this.parameterValues) return this.parameterValues[key];
        if (!('defaultValue' in declared)) throw new Error(`parameters('${key}') has no value`);
        return this.evaluate(declared.defaultValue);
      }
      case 'variables': {
        const key = str(0);
        if (!(key in this.template.variables)) throw new Error(`variables('${key}') is not declared`);
        if (!this.variableCache.has(key))
          this.variableCache.set(key, this.evaluate(this.template.variables[key]));
        return this.variableCache.get(key);
      }
      case 'format':
        return str(0).replace(/\{\{|\}\}|\{(\d+)\}/g, (token, index?: string) =>
          index === undefined ? (token[0] ?? '') : String(args[Number(index) + 1]),
        );
      case 'concat':
        return args.every(Array.isArray) ? args.flat() : args.map(String).join('');
      case 'take':
        return str(0).slice(0, Number(args[1]));
      case 'tolower':
        return str(0).toLowerCase();
      case 'string':
        return typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]);
      case 'uniquestring':
        return hash(args)
          .replace(/[^a-z0-9]/g, '')
          .slice(0, 13);
      case 'guid': {
        const hex = createHash('sha256').update(JSON.stringify(args)).digest('hex');
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
      }
      case 'resourcegroup':
        return { id: RESOURCE_GROUP_ID, location: 'westeurope', name: 'modelfleet-test' };
      case 'subscription':
        return { subscriptionId: SUBSCRIPTION, tenantId: '00000000-0000-0000-0000-00000000000t' };
      case 'environment':
        return { suffixes: { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net' } };
      case 'resourceid':
        return resourceId(str(0), args.slice(1).map(String));
      case 'subscriptionresourceid':
        return `/subscriptions/${SUBSCRIPTION}/providers/${str(0)}/${args.slice(1).map(String).join('/')}`;
      case 'extensionresourceid':
        return `${str(0)}/providers/${str(1)}/${args.slice(2).map(String).join('/')}`;
      case 'reference':
        return new Proxy({}, { get: (_target, property) => `<reference ${str(0)} ${String(property)}>` });
      case 'listkeys':
        // A storage account's keys, or an Event Hubs / Service Bus authorization rule's.
        return { keys: [{ value: ACCOUNT_KEY_SENTINEL }], primaryKey: ACCOUNT_KEY_SENTINEL };
      case 'equals':
        return JSON.stringify(args[0]) === JSON.stringify(args[1]);
      case 'if':
        if (typeof args[0] !== 'boolean')
          throw new Error(`if() needs a boolean, got ${JSON.stringify(args[0])}`);
        return args[0] ? args[1] : args[2];
      case 'json':
        return JSON.parse(str(0)) as Value;
      case 'empty':
        return args[0] === '' || args[0] === null || (Array.isArray(args[0]) && args[0].length === 0);
      default:
        throw new Error(`unknown ARM function ${name}()`);
    }
  }
}

/** A full resource id from a type and its name segments; the segment counts must agree. */
export function resourceId(type: string, names: string[]): string {
  const [namespace, ...types] = type.split('/');
  if (namespace === undefined || types.length === 0) throw new Error(`bad resource type ${type}`);
  if (types.length !== names.length) {
    throw new Error(
      `resourceId('${type}') needs ${types.length} name segments, got ${names.length}: ${names.join(', ')}`,
    );
  }
  const path = types.map((segment, index) => `${segment}/${names[index]}`).join('/');
  return `${RESOURCE_GROUP_ID}/providers/${namespace}/${path}`;
}

function hash(args: Value[]): string {
  return createHash('sha256').update(JSON.stringify(args)).digest('base64').toLowerCase();
}

type Node =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'member'; target: Node; key: string | Node };

class Parser {
  private at = 0;
  constructor(private readonly text: string) {}

  parse(): Node {
    const node = this.value();
    this.space();
    if (this.at !== this.text.length) this.fail('unexpected text');
    return node;
  }

  private value(): Node {
    this.space();
    const char = this.text[this.at];
    let node: Node;
    if (char === "'") node = this.string();
    else if (char !== undefined && /[-\d]/.test(char)) node = this.number();
    else node = this.callNode();
    for (;;) {
      if (this.text[this.at] === '.') {
        this.at++;
        node = { kind: 'member', target: node, key: this.identifier() };
      } else if (this.text[this.at] === '[') {
        this.at++;
        const key = this.value();
        this.expect(']');
        node = { kind: 'member', target: node, key };
      } else {
        return node;
      }
    }
  }

  private string(): Node {
    this.at++;
    let value = '';
    for (;;) {
      const char = this.text[this.at];
      if (char === undefined) this.fail('unterminated string');
      if (char === "'") {
        if (this.text[this.at + 1] === "'") {
          value += "'";
          this.at += 2;
          continue;
        }
        this.at++;
        return { kind: 'string', value };
      }
      value += char;
      this.at++;
    }
  }

  private number(): Node {
    const match = /^-?\d+/.exec(this.text.slice(this.at));
    if (match === null) this.fail('bad number');
    this.at += match[0].length;
    return { kind: 'number', value: Number(match[0]) };
  }

  private callNode(): Node {
    const name = this.identifier();
    this.expect('(');
    const args: Node[] = [];
    this.space();
    if (this.text[this.at] !== ')') {
      for (;;) {
        args.push(this.value());
        this.space();
        if (this.text[this.at] === ',') {
          this.at++;
          continue;
        }
        break;
      }
    }
    this.expect(')');
    return { kind: 'call', name, args };
  }

  private identifier(): string {
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.at));
    if (match === null) this.fail('expected a name');
    this.at += match[0].length;
    return match[0];
  }

  private expect(char: string): void {
    this.space();
    if (this.text[this.at] !== char) this.fail(`expected ${char}`);
    this.at++;
  }

  private space(): void {
    while (this.text[this.at] === ' ') this.at++;
  }

  private fail(message: string): never {
    throw new Error(`${message} at ${this.at} in [${this.text}]`);
  }
}
