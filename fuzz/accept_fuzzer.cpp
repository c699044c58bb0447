// Fuzz target: an Accept header → parse_accept → accept_class → canonical_accept.
// Invariants: no crash; the canonical Accept of a class parses back to that class (so
// canonicalising is idempotent, which the CDN's cache key relies on); case does not
// matter; adding a range can only add a format, and a q=0 range adds nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "negotiate/accept.h"

namespace {

std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace imageflex;
  const std::string header(reinterpret_cast<const char*>(data), size);
  const AcceptedFormats accepted = parse_accept(header);
  const AcceptClass taken = accept_class(accepted);

  const std::string_view canonical = canonical_accept(taken);
  FUZZ_CHECK(accept_class(parse_accept(canonical)) == taken);
  FUZZ_CHECK(canonical_accept(accept_class(parse_accept(canonical))) == canonical);
  const std::string_view name = accept_class_name(taken);
  FUZZ_CHECK(name == "avif" || name == "webp" || name == "other");

  FUZZ_CHECK(parse_accept(ascii_upper(header)) == accepted);
  FUZZ_CHECK(parse_accept(header + ",image/avif;q=0,image/webp;q=0") == accepted);
  const AcceptedFormats more = parse_accept(header + ",image/webp");
  FUZZ_CHECK(more.webp && more.avif == accepted.avif);

  // Negotiation picks an output for every source: AVIF only for the avif class and a still.
  for (const bool animated : {false, true}) {
    for (const bool alpha : {false, true}) {
      SourceInfo source;
      source.format = Format::kTiff;
      source.frames = animated ? 2 : 1;
      source.alpha = alpha;
      const Format chosen = choose_format(accepted, source);
      FUZZ_CHECK(chosen != Format::kAvif || (taken == AcceptClass::kAvif && !animated));
      FUZZ_CHECK(!animated || supports_animation(chosen));
      FUZZ_CHECK(!alpha || supports_alpha(chosen));
    }
  }
  return 0;
}
