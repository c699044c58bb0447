// Image Flex: CloudFront Function, viewer request (runtime cloudfront-js-2.0).
//
// Normalises the request before CloudFront computes its cache key, so that the key holds
// only what changes the image:
//   - the query keeps only the service's own parameters, under their plain names and in one
//     order (the cache policy keys on every query string that is left; a signed
//     URL's s and exp too: each signature is then its own cache entry, so no unsigned request
//     is ever answered from a signed one's);
//   - Accept is collapsed to one of three classes (avif, webp, other) and rewritten to that
//     class's canonical value, so Accept can be in the cache key without splitting the cache.
// The Accept parse mirrors parse_accept() and accept_class() in src/negotiate/accept.cpp
// exactly; both are tested on tests/data/accept_headers.tsv. The stack reads this file as is,
// and reads QUERY_PARAMETERS from it for the cache policy. No ES modules in this runtime.

// The parameters src/request/parameters.h lists (tests compare): kImageParameters,
// which make the image, then kSignatureParameters, which a signed URL carries to the service.
var QUERY_PARAMETERS = ['w', 'h', 'fit', 'enlarge', 'f', 'q', 'pos', 'fp', 'dpr', 'bg', 'rotate', 'flip', 'flop', 'crop', 'blur', 'sharpen', 'trim', 'lossless', 'progressive', 'p', 'meta', 'exp', 's'];

// What each class is rewritten to (tests/data/accept_classes.tsv, canonical_accept() in C++).
var CANONICAL_ACCEPT = {
  avif: 'image/avif,image/webp',
  webp: 'image/webp',
  other: 'image/jpeg,image/png,image/gif'
};

// Spaces, tabs, CR and LF at either end, as the service's trim().
function trim(text) {
  return text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
}

// A q-value: a plain decimal within 0..1, else 0 (malformed), as decimal_quality().
function decimalQuality(value) {
  if (!/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)$/.test(value)) return 0;
  var q = Number(value);
  return q <= 1 ? q : 0;
}

// The class of an Accept header value: 'avif' (AVIF and WebP taken), 'webp' or 'other'.
// Only an explicit image/avif or image/webp with q > 0 counts; */* and image/* do not.
function acceptClass(header) {
  var avif = false;
  var webp = false;
  var ranges = header.split(',');
  for (var i = 0; i < ranges.length; i++) {
    var parts = ranges[i].split(';');
    var type = trim(parts[0]).replace(/[A-Z]/g, function (c) { return c.toLowerCase(); });
    var q = 1;
    for (var k = 1; k < parts.length; k++) {
      var parameter = trim(parts[k]);
      if (parameter.length >= 2 && (parameter[0] === 'q' || parameter[0] === 'Q') && parameter[1] === '=') {
        q = decimalQuality(trim(parameter.substring(2)));
      }
    }
    if (q <= 0) continue;
    if (type === 'image/avif') avif = true;
    if (type === 'image/webp') webp = true;
  }
  if (avif && webp) return 'avif';
  return webp ? 'webp' : 'other';
}

// A query name as the service reads it: percent-decoded, '+' as a space; null if malformed.
function decodeName(raw) {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch (e) {
    return null;
  }
}

// The values of one querystring entry, in order (multiValue when the name repeats).
function valuesOf(entry) {
  return entry.multiValue ? entry.multiValue : [{ value: entry.value }];
}

function handler(event) {
  var request = event.request;

  // Keep our parameters only, under their decoded names: "%77=10" reaches the service as
  // w=10 and is keyed as w, so no parameter can change the image without being in the key.
  // Repeats are kept, so the service still answers them with its 400.
  var kept = {};
  for (var raw in request.querystring) {
    var name = decodeName(raw);
    if (name === null || QUERY_PARAMETERS.indexOf(name) < 0) continue;
    var values = (kept[name] ? valuesOf(kept[name]) : []).concat(valuesOf(request.querystring[raw]));
    kept[name] = values.length === 1 ? { value: values[0].value } : { value: values[0].value, multiValue: values };
  }
  // In QUERY_PARAMETERS' order, whatever the URL's: the cache policy keys on all query
  // strings (only ours are left), so two orders of one request stay one cache entry.
  var ordered = {};
  for (var i = 0; i < QUERY_PARAMETERS.length; i++) {
    if (kept[QUERY_PARAMETERS[i]]) ordered[QUERY_PARAMETERS[i]] = kept[QUERY_PARAMETERS[i]];
  }
  request.querystring = ordered;

  // Several Accept headers are one list, as HTTP joins them.
  var accept = request.headers.accept;
  var header = '';
  if (accept) {
    header = accept.multiValue
      ? accept.multiValue.map(function (v) { return v.value; }).join(',')
      : accept.value;
  }
  request.headers.accept = { value: CANONICAL_ACCEPT[acceptClass(header)] };
  return request;
}
