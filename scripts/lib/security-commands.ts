/** The security commands of the `modelfleet` CLI: API key hashes and Ed25519 manifest signing. */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE, parseManifest } from '../../shared/repository/manifest';
import { hashApiKey, isScope, SCOPES } from '../../shared/security/api-keys';
import { privateKeyFrom, signManifest } from '../../shared/security/signing';

/** keygen's default folder; ignored by git so a private key is never committed by accident. */
export const SIGNING_KEYS_DIR = 'signing-keys';

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
      const dir = path.resolve(values.out ?? SIGNING_KEYS_DIR);
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
    case 'sign':
      signCommand(args, values, print, fail);
      return true;
    default:
      return false;
  }
}

/** `sign`: the key is read first, so a public key given by mistake is named before anything else. */
function signCommand(args: string[], values: SecurityValues, print: Print, fail: Fail): void {
  if (args.length !== 1) fail('sign takes one <manifest.json | package-dir>');
  const target = args[0] as string;
  const file =
    existsSync(target) && statSync(target).isDirectory() ? path.join(target, MANIFEST_FILE) : target;
  const keyFile = values.key ?? fail('sign needs --key PRIVATE.key');
  const keyId = values['key-id'] ?? fail('sign needs --key-id ID');
  const read = (what: string) => {
    try {
      return readFileSync(what, 'utf8');
    } catch (err) {
      return fail(`sign: ${(err as Error).message}`);
    }
  };
  const keyPem = read(keyFile);
  if (keyPem.includes('-----BEGIN PUBLIC KEY-----')) {
    fail(
      `sign: ${keyFile} is a public key; sign with the private key keygen wrote next to it (${keyFile.replace(/\.pub$/, '')}.key). Public keys go into the server's MODEL_SIGNING_KEYS.`,
    );
  }
  let privateKey: ReturnType<typeof privateKeyFrom>;
  try {
    privateKey = privateKeyFrom(keyPem);
  } catch (err) {
    fail(`sign: ${keyFile} is not a PEM private key (${(err as Error).message})`);
  }
  const manifestText = read(file);
  let json: unknown;
  try {
    json = JSON.parse(manifestText);
  } catch (err) {
    fail(`sign: ${file} is not JSON: ${(err as Error).message}`);
  }
  const signed = signManifest(parseManifest(json, file), privateKey, keyId);
  writeFileSync(file, `${JSON.stringify(signed, null, 2)}\n`);
  print(
    values.json === true
      ? JSON.stringify({ manifest: file, attestation: signed.attestation })
      : `signed ${file} with key "${keyId}"`,
  );
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
