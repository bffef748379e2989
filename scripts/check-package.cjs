'use strict';
// Lambda refuses a deployment package over 50 MB zipped (direct upload) or 250 MB unpacked, and
// only says so at deploy time, after the upload. This checks both limits right after packaging.
// CommonJS on purpose: the serverless plugin in infra/aws loads it without a build step.
const fs = require('node:fs');
const path = require('node:path');

const MB = 1024 * 1024;
const LIMITS = Object.freeze({ zipBytes: 50 * MB, unpackedBytes: 250 * MB });

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;

/**
 * Sums the uncompressed sizes recorded in a zip's central directory (what Lambda unpacks).
 * @param {string} file
 * @returns {{ zipBytes: number, unpackedBytes: number, entries: number }}
 */
function zipSizes(file) {
  const buffer = fs.readFileSync(file);
  // The end-of-central-directory record sits in the last 22 bytes plus an optional comment.
  let eocd = -1;
  for (let at = buffer.length - 22; at >= Math.max(0, buffer.length - 22 - 0xffff); at--) {
    if (buffer.readUInt32LE(at) === EOCD_SIGNATURE) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file (no end of central directory)`);
  const entries = buffer.readUInt16LE(eocd + 10);
  const directoryOffset = buffer.readUInt32LE(eocd + 16);
  if (entries === 0xffff || directoryOffset === 0xffffffff) {
    throw new Error(`${file} is a zip64 archive; far too large for Lambda`);
  }
  let unpackedBytes = 0;
  let at = directoryOffset;
  for (let i = 0; i < entries; i++) {
    if (buffer.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      throw new Error(`${file}: corrupt central directory at entry ${i}`);
    }
    unpackedBytes += buffer.readUInt32LE(at + 24);
    at += 46 + buffer.readUInt16LE(at + 28) + buffer.readUInt16LE(at + 30) + buffer.readUInt16LE(at + 32);
  }
  return { zipBytes: buffer.length, unpackedBytes, entries };
}

/** Thrown when a package breaks a Lambda size limit; the message names the file and the limit. */
class PackageTooLargeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PackageTooLargeError';
  }
}

/**
 * Checks each zip against the limits. Returns the measured sizes, or throws one error listing
 * every package over a limit.
 * @param {string[]} files
 * @param {{ zipBytes?: number, unpackedBytes?: number }} [limits]
 */
function checkPackages(files, limits = {}) {
  const zipLimit = limits.zipBytes ?? LIMITS.zipBytes;
  const unpackedLimit = limits.unpackedBytes ?? LIMITS.unpackedBytes;
  const reports = files.map((file) => ({ file, ...zipSizes(file) }));
  const problems = [];
  for (const report of reports) {
    const name = path.basename(report.file);
    if (report.zipBytes > zipLimit) {
      problems.push(`${name} is ${mb(report.zipBytes)} zipped; the limit is ${mb(zipLimit)}`);
    }
    if (report.unpackedBytes > unpackedLimit) {
      problems.push(`${name} unpacks to ${mb(report.unpackedBytes)}; the limit is ${mb(unpackedLimit)}`);
    }
  }
  if (problems.length > 0) {
    throw new PackageTooLargeError(
      `Lambda package too large:\n  ${problems.join('\n  ')}\n` +
        'Keep only one platform of onnxruntime-node (see package.patterns in serverless.yml) ' +
        'and leave model files in the model repository, not in the bundle.',
    );
  }
  return reports;
}

function mb(bytes) {
  return `${(bytes / MB).toFixed(1)} MB`;
}

module.exports = { LIMITS, PackageTooLargeError, checkPackages, zipSizes };

if (require.main === module) {
  // Usage: node scripts/check-package.cjs [folder with the *.zip files, default .serverless]
  const folder = process.argv[2] ?? '.serverless';
  const zips = fs
    .readdirSync(folder)
    .filter((name) => name.endsWith('.zip'))
    .map((name) => path.join(folder, name));
  if (zips.length === 0) {
    console.error(`no .zip files in ${folder}; run \`npx sls package\` first`);
    process.exit(1);
  }
  try {
    for (const report of checkPackages(zips)) {
      console.log(
        `${path.basename(report.file)}: ${mb(report.zipBytes)} zipped, ${mb(report.unpackedBytes)} unpacked`,
      );
    }
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
