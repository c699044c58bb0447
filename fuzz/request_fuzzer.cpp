// Fuzz target: a request target (path and query) → parse_request → the canonical
// variant key. Invariants: only imageflex::Error escapes; the key is a function of the
// parsed request (parsing twice gives one key); and a URL rebuilt from the parsed fields
// parses back to the same request and the same key, so no two spellings of one variant
// can name different variants, nor one spelling two.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "request/image_request.h"
#include "request/key.h"
#include "storage/sigv4.h"  // uri_encode: the percent-encoder for the rebuilt path

namespace imageflex {
namespace {

constexpr int kMaxDimension = 8192;

// The request as a URL in one canonical spelling: its key, then the image parameters as
// parse_request recorded them (canonical_query: the parser's table order, decoded values),
// each value percent-encoded again. Built from the parser's own record rather than a list
// of fields here, so a new parameter is covered without an edit. No valid value holds '&'.
std::string rebuild_target(const ImageRequest& request) {
  std::string target = "/" + uri_encode(request.key, false) + "?";
  std::size_t start = 0;
  const std::string_view query = request.canonical_query;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const auto pair = query.substr(start, end - start);
    const auto equals = pair.find('=');
    target += std::string(pair.substr(0, equals + 1)) + uri_encode(pair.substr(equals + 1), true) + "&";
    start = end + 1;
  }
  return target;
}

// Every negotiation input the key can depend on.
constexpr AcceptedFormats kAcceptInputs[] = {{false, false}, {false, true}, {true, false}, {true, true}};

void check_same_keys(const ImageRequest& a, const ImageRequest& b, const Quality& defaults) {
  for (const auto& accepted : kAcceptInputs) {
    FUZZ_CHECK(variant_key(a, "etag", accepted, defaults) == variant_key(b, "etag", accepted, defaults));
  }
}

}  // namespace
}  // namespace imageflex

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace imageflex;
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  ImageRequest first;
  if (!fuzz::only_error_escapes([&] { first = parse_request(target, kMaxDimension); })) return 0;

  // What a parsed request may hold.
  FUZZ_CHECK(!first.key.empty() && first.key.front() != '/');
  FUZZ_CHECK(first.geometry.width >= 0 && first.geometry.width <= kMaxDimension);
  FUZZ_CHECK(first.geometry.height >= 0 && first.geometry.height <= kMaxDimension);
  FUZZ_CHECK(first.quality >= 0 && first.quality <= 100);
  FUZZ_CHECK(first.geometry.fit == Fit::kCover || (first.geometry.width > 0 && first.geometry.height > 0));

  const Quality defaults;
  const ImageRequest second = parse_request(target, kMaxDimension);  // succeeded once: must again
  FUZZ_CHECK(second.key == first.key && second.geometry == first.geometry && second.format == first.format &&
             second.quality == first.quality);
  check_same_keys(first, second, defaults);

  const std::string rebuilt = rebuild_target(first);
  if (rebuilt.find('?') > kMaxPathBytes) return 0;  // the encoded key alone is over the path limit
  ImageRequest reparsed;
  const bool parsed = fuzz::only_error_escapes([&] { reparsed = parse_request(rebuilt, kMaxDimension); });
  if (!parsed) std::fprintf(stderr, "rebuilt target %s does not parse\n", rebuilt.c_str());
  FUZZ_CHECK(parsed);
  FUZZ_CHECK(reparsed.key == first.key && reparsed.geometry == first.geometry &&
             reparsed.format == first.format && reparsed.quality == first.quality &&
             reparsed.canonical_query == first.canonical_query);
  check_same_keys(first, reparsed, defaults);
  return 0;
}
