/** The security commands of the `modelfleet` CLI: API key hashes and Ed25519 manifest signing. */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE, parseManifest } from '../shared/repository/manifest';
import { hashApiKey, isScope, SCOPES } from '../shared/security/api-keys';
import { privateKeyFrom, signManifest } from '../shared/security/signing';

export const SECURITY_USAGE = `  hash-key [KEY] [--name NAME] [--scopes predict+feedback]
      Print the sha256 of an API key (read from stdin when not given) and its API_KEYS entry.
  new-key --name NAME [--scopes predict]
      Make a random API key; prints it once, with the API_KEYS entry that holds only its hash.
  keygen --key-id ID [--out DIR]
      Make an Ed25519 key pair for signing manifests: DIR/ID.key (private) and DIR/ID.pub.
  sign <manifest.json | package-dir> --key PRIVATE.pem --key-id ID
      Sign a manifest in place; serving checks it against MODEL_SIGNING_KEYS.
`;

export interface SecurityValues {
  name?: string | undefined;
  scopes?: string | undefined;
  key?: string | undefined;
  'key-id'?: string | undefined;
  out?: string | undefined;
  json?: boolean | undefined;
}

type Print = (text: string) => void;
type Fail = (message: string) => never;

/** Runs `command` if it is a security command; returns false when it is not one. */
export async function runSecurityCommand(
  command: string,
  args: string[],
  values: SecurityValues,
  print: Print,
  fail: Fail,
  readStdin: () => Promise<string> = readAllStdin,
): Promise<boolean> {
  switch (command) {
    case 'hash-key': {
      if (args.length > 1) fail('hash-key takes at most one key');
      const key = (args[0] ?? (await readStdin())).trim();
      if (key === '') fail('hash-key: no key given (argument or stdin)');
      const sha256 = hashApiKey(key);
      const entry = `${values.name ?? 'NAME'}:${scopesOf(values.scopes, fail).join('+')}:${sha256}`;
      print(values.json === true ? JSON.stringify({ sha256, entry }) : `${sha256}\nAPI_KEYS entry: ${entry}`);
      return true;
    }
    case 'new-key': {
      if (values.name === undefined) fail('new-key needs --name');
      const key = `mf_${randomBytes(32).toString('base64url')}`;
      const entry = `${values.name}:${scopesOf(values.scopes, fail).join('+')}:${hashApiKey(key)}`;
      print(
        values.json === true
          ? JSON.stringify({ key, entry })
          : `key (shown once, give it to the client): ${key}\nAPI_KEYS entry (store this): ${entry}`,
      );
      return true;
    }
    case 'keygen': {
      const keyId = values['key-id'] ?? fail('keygen needs --key-id');
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(keyId))
        fail(`--key-id ${JSON.stringify(keyId)} is not valid`);
      const dir = path.resolve(values.out ?? '.');
      mkdirSync(dir, { recursive: true });
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const privatePath = path.join(dir, `${keyId}.key`);
      if (existsSync(privatePath)) fail(`${privatePath} exists; refusing to overwrite a signing key`);
      writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      writeFileSync(path.join(dir, `${keyId}.pub`), publicPem);
      const raw = publicKey.export({ format: 'jwk' }).x ?? '';
      const config = JSON.stringify({ [keyId]: Buffer.from(raw, 'base64url').toString('base64') });
      print(
        values.json === true
          ? JSON.stringify({ privateKey: privatePath, publicKey: publicPem, modelSigningKeys: config })
          : `private key: ${privatePath} (keep it off the serving stack)\nMODEL_SIGNING_KEYS='${config}'`,
      );
      return true;
    }
    case 'sign': {
      if (args.length !== 1) fail('sign takes one <manifest.json | package-dir>');
      const target = args[0] as string;
      const file =
        existsSync(target) && statSync(target).isDirectory() ? path.join(target, MANIFEST_FILE) : target;
      const keyFile = values.key ?? fail('sign needs --key PRIVATE.pem');
      const keyId = values['key-id'] ?? fail('sign needs --key-id ID');
      let manifestText: string;
      let keyPem: string;
      try {
        manifestText = readFileSync(file, 'utf8');
        keyPem = readFileSync(keyFile, 'utf8');
      } catch (err) {
        return fail(`sign: ${(err as Error).message}`);
      }
      let json: unknown;
      try {
        json = JSON.parse(manifestText);
      } catch (err) {
        return fail(`sign: ${file} is not JSON: ${(err as Error).message}`);
      }
      const signed = signManifest(parseManifest(json, file), privateKeyFrom(keyPem), keyId);
      writeFileSync(file, `${JSON.stringify(signed, null, 2)}\n`);
      print(
        values.json === true
          ? JSON.stringify({ manifest: file, attestation: signed.attestation })
          : `signed ${file} with key "${keyId}"`,
      );
      return true;
    }
    default:
      return false;
  }
}

function scopesOf(text: string | undefined, fail: Fail): string[] {
  const scopes = (text ?? 'predict').split(/[+,]/).filter((s) => s !== '');
  const bad = scopes.find((s) => !isScope(s));
  if (bad !== undefined || scopes.length === 0) fail(`--scopes: use ${SCOPES.join(', ')} joined by "+"`);
  return scopes;
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
