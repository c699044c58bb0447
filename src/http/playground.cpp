#include "http/playground.h"

#include <charconv>

#include "common/error.h"
#include "common/log.h"
#include "request/image_request.h"

namespace imageflex {
namespace {

constexpr std::string_view kPrefix = "/_imageflex/";

std::string_view content_type(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

// One decoded query parameter ("" when absent).
std::string query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!value) throw Error(ErrorKind::kBadRequest, "bad " + std::string(name) + "=");
      return *value;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

// A page of original keys: ?after=KEY&limit=N (at most kListPageMax).
Response list_page(const Request& request, std::string_view query, Storage& storage) {
  std::size_t limit = 50;
  if (const std::string text = query_value(query, "limit"); !text.empty()) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || ptr != text.data() + text.size() || limit < 1 || limit > kListPageMax) {
      throw Error(ErrorKind::kBadRequest, "limit= must be 1 to " + std::to_string(kListPageMax));
    }
  }
  const ListPage page = storage.list(query_value(query, "prefix"), query_value(query, "after"), limit);
  return text_response(request, "application/json",
                       to_json(Json{{"keys", page.keys}, {"next", page.next}}) + "\n");
}

// The parameters that make a variant, in the order a signature covers them.
Response params_table(const Request& request, const Config& config) {
  Json params = Json::array();
  for (const auto& p : kImageParameters) {
    params.push_back(Json{{"name", p.name}, {"values", p.values}, {"help", p.meaning}});
  }
  return text_response(
      request, "application/json",
      to_json(Json{{"params", params}, {"max_dimension", config.limits.max_output_dimension}}) + "\n");
}

}  // namespace

std::optional<Response> answer_playground(const Request& request, std::string_view path,
                                          std::string_view query, const Config& config, Storage& storage) {
  if (!config.playground || !path.starts_with(kPrefix)) return std::nullopt;
  const std::string_view name = path.substr(kPrefix.size());
  if (name == "list") return list_page(request, query, storage);
  if (name == "params") return params_table(request, config);
  const std::string file = path == kPlaygroundPath ? "playground.html" : std::string(name);
  for (const auto& embedded : playground_files()) {
    if (embedded.name != file) continue;
    Response response = text_response(request, content_type(file), std::string(embedded.bytes));
    // The page may talk to this server alone: no external script, style, image or request.
    response.set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:");
    return response;
  }
  return std::nullopt;
}

}  // namespace imageflex
