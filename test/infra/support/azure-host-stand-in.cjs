'use strict';
// Stand-in for the Azure Functions host, for tests only (the host cannot be installed here; see
// TOOLCHAIN.md). It loads a *staged* app folder the way the Node worker does — package.json `main`,
// with the app's own @azure/functions — records what the app registers (the host's registry), and
// serves its one HTTP function on 127.0.0.1: a Node request becomes the library's HttpRequest, the
// returned HttpResponseInit goes back through the library's HttpResponse, as the worker does.
// Usage: node azure-host-stand-in.cjs <staged app folder>   (prints "listening on http://…")
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { randomUUID } = require('node:crypto');

const appDir = path.resolve(process.argv[2] ?? '.');
const functions = require(path.join(appDir, 'vendor', 'node_modules', '@azure', 'functions'));
const registered = [];
for (const kind of ['http', 'timer']) {
  functions.app[kind] = (name, options) => registered.push({ kind, name, options });
}
const { main } = JSON.parse(fs.readFileSync(path.join(appDir, 'package.json'), 'utf8'));
require(path.join(appDir, main));

const httpFunctions = registered.filter((entry) => entry.kind === 'http');
if (httpFunctions.length !== 1) {
  console.error(`expected one HTTP function, got ${httpFunctions.map((entry) => entry.name).join(', ')}`);
  process.exit(1);
}
const [{ name, options }] = httpFunctions;

const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const headers = {};
    for (const [key, value] of Object.entries(req.headers)) {
      headers[key] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    const request = new functions.HttpRequest({
      method: req.method,
      url: `http://${req.headers.host}${req.url}`,
      headers,
      ...(body.length === 0 ? {} : { body: { bytes: new Uint8Array(body) } }),
    });
    const context = new functions.InvocationContext({
      invocationId: randomUUID(),
      functionName: name,
      logHandler: (level, ...args) => process.stdout.write(`[${level}] ${args.map(String).join(' ')}\n`),
    });
    const response = new functions.HttpResponse(await options.handler(request, context));
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (err) {
    // The host answers an unhandled failure with a bare 500; the test then sees it as one.
    process.stderr.write(`unhandled: ${err?.stack}\n`);
    res.writeHead(500).end();
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const summary = registered.map((entry) => ({
    kind: entry.kind,
    name: entry.name,
    route: entry.options.route,
    authLevel: entry.options.authLevel,
    methods: entry.options.methods,
  }));
  process.stdout.write(`registered ${JSON.stringify(summary)}\n`);
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
});
