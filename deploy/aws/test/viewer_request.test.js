// The CloudFront Function (functions/viewer-request.js), run as CloudFront runs it: the file
// as is, in a fresh context with no modules, on the shared Accept table that the service's
// own negotiation is tested on (tests/unit/accept_table_test.cpp).
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const vm = require('node:vm');

const REPO = path.resolve(__dirname, '..', '..', '..');
const FUNCTION_FILE = path.join(REPO, 'deploy', 'aws', 'functions', 'viewer-request.js');
const SOURCE = fs.readFileSync(FUNCTION_FILE, 'utf8');

// The handler, with its result as plain data (objects made inside the context have that
// context's prototypes, which deepEqual would tell apart from ours).
function loadHandler() {
  const context = vm.createContext({});
  vm.runInContext(SOURCE, context, { filename: FUNCTION_FILE });
  return (event) => JSON.parse(JSON.stringify(context.handler(event)));
}

function readTsv(file) {
  return fs
    .readFileSync(path.join(REPO, 'tests', 'data', file), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split('\t'));
}

const ROWS = readTsv('accept_headers.tsv').map(([description, header, expected]) => ({ description, header, expected }));
const CANONICAL = Object.fromEntries(readTsv('accept_classes.tsv'));

function viewerRequest(querystring, headers) {
  return { version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '192.0.2.1' },
    request: { method: 'GET', uri: '/photo.jpg', querystring, headers, cookies: {} } };
}

test('the table covers every class and the canonical values are the three classes', () => {
  assert.ok(ROWS.length >= 30);
  assert.deepEqual(Object.keys(CANONICAL).sort(), ['avif', 'other', 'webp']);
  for (const row of ROWS) assert.equal(row.header === undefined, false, row.description);
});

test('every row of the Accept table is rewritten to its class canonical value', () => {
  const handler = loadHandler();
  for (const row of ROWS) {
    const request = handler(viewerRequest({}, { accept: { value: row.header } }));
    assert.deepEqual(request.headers.accept, { value: CANONICAL[row.expected] }, `${row.description}: '${row.header}'`);
  }
});

test('rewriting is stable: a canonical value stays itself', () => {
  const handler = loadHandler();
  for (const [name, value] of Object.entries(CANONICAL)) {
    assert.equal(handler(viewerRequest({}, { accept: { value } })).headers.accept.value, value, name);
  }
});

test('no Accept header is class other; several Accept headers are one list', () => {
  const handler = loadHandler();
  assert.equal(handler(viewerRequest({}, {})).headers.accept.value, CANONICAL.other);
  const several = { accept: { value: 'image/avif', multiValue: [{ value: 'image/avif' }, { value: 'image/webp' }] } };
  assert.equal(handler(viewerRequest({}, several)).headers.accept.value, CANONICAL.avif);
});

test('only our query parameters are kept, under their decoded names', () => {
  const handler = loadHandler();
  const request = handler(
    viewerRequest(
      {
        w: { value: '300' },
        '%68': { value: '200' }, // h, percent-encoded: the service decodes names
        fit: { value: 'contain' },
        enlarge: { value: 'true' },
        f: { value: 'webp' },
        q: { value: '70' },
        exp: { value: '1767225600' }, // a signed URL's own: the service verifies them
        s: { value: 'k2Jv-sig_nature' },
        utm_source: { value: 'mail' },
        W: { value: '10' }, // names are case-sensitive in the service
        '%zz': { value: '1' }, // malformed: not one of ours
        width: { value: '5' },
      },
      {},
    ),
  );
  assert.deepEqual(request.querystring, {
    w: { value: '300' },
    h: { value: '200' },
    fit: { value: 'contain' },
    enlarge: { value: 'true' },
    f: { value: 'webp' },
    q: { value: '70' },
    exp: { value: '1767225600' },
    s: { value: 'k2Jv-sig_nature' },
  });
});

test('the kept parameters come in one order, whatever the URL\'s, so the cache key does not split', () => {
  const handler = loadHandler();
  const a = handler(viewerRequest({ f: { value: 'webp' }, x: { value: '1' }, w: { value: '300' }, blur: { value: '5' } }, {}));
  const b = handler(viewerRequest({ blur: { value: '5' }, w: { value: '300' }, f: { value: 'webp' } }, {}));
  assert.deepEqual(Object.keys(a.querystring), ['w', 'f', 'blur']);
  assert.equal(JSON.stringify(a.querystring), JSON.stringify(b.querystring));
});

test('a parameter without a value (?meta, ?lossless) is kept, still without one', () => {
  const handler = loadHandler();
  const request = handler(viewerRequest({ meta: { value: '' }, lossless: { value: '' }, x: { value: '' } }, {}));
  assert.deepEqual(request.querystring, { meta: { value: '' }, lossless: { value: '' } });
});

test('a repeated parameter reaches the service repeated (its 400), also when spelled two ways', () => {
  const handler = loadHandler();
  const repeated = handler(
    viewerRequest({ w: { value: '1', multiValue: [{ value: '1' }, { value: '2' }] }, '%77': { value: '3' } }, {}),
  );
  assert.deepEqual(repeated.querystring, {
    w: { value: '1', multiValue: [{ value: '1' }, { value: '2' }, { value: '3' }] },
  });
});

test('the function keeps exactly the parameters the service parser reads', () => {
  // The C++ side: the rows of kImageParameters and kSignatureParameters in
  // src/request/parameters.h (the parser's only table).
  const header = fs.readFileSync(path.join(REPO, 'src', 'request', 'parameters.h'), 'utf8');
  const parser = [];
  for (const table of ['kImageParameters', 'kSignatureParameters']) {
    const cpp = new RegExp(table + ' = \\{\\{([\\s\\S]*?)\\}\\};').exec(header);
    assert.ok(cpp, table + ' not found in parameters.h');
    parser.push(...[...cpp[1].matchAll(/^\s*\{"([^"]*)",/gm)].map((m) => m[1]));
  }
  assert.ok(parser.includes('w') && parser.includes('s'));
  parser.sort();
  const edge = [...vm.runInContext(SOURCE + '\nQUERY_PARAMETERS', vm.createContext({}))].sort();
  assert.deepEqual(edge, parser);
});

test('the file fits the cloudfront-js-2.0 runtime: no modules, under 10 KB, a handler', () => {
  assert.ok(Buffer.byteLength(SOURCE) < 10 * 1024);
  assert.doesNotMatch(SOURCE, /\b(require\s*\(|import\s|export\s|module\.exports)/);
  assert.match(SOURCE, /^function handler\(event\)/m);
});
