#include "lambda/lambda_loop.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include <vips/version.h>

#include "common/error.h"
#include "common/log.h"
#include "http/handler.h"
#include "image/vips_runtime.h"
#include "lambda/function_url.h"
#include "lambda/runtime_client.h"
#include "storage/open_storage.h"

namespace imageflex {
namespace {

using Clock = std::chrono::steady_clock;

// Time kept back from Lambda's own deadline so that a late variant still gets its 504 out
// before Lambda stops the invocation (which would leave the client a bare 502).
constexpr auto kDeadlineMargin = std::chrono::milliseconds(500);

// Run from the bundle (`bootstrap` beside lib/ and certs/), use what the bundle carries:
//  - libvips' modules (the HEIF/AVIF loader and saver among them). libvips looks in
//    $VIPSHOME/ + the last part of its build-time libdir (x86_64-linux-gnu on Debian) +
//    /vips-modules-MAJOR.MINOR, so VIPSHOME must point at lib/ before libvips starts.
//  - Debian's CA certificates: Debian's libcurl looks for them where Amazon Linux has none.
// Anywhere else the system's own are found as usual.
void use_bundle(Config& config) {
  std::error_code error;
  const auto root = std::filesystem::read_symlink("/proc/self/exe", error).parent_path();
  if (error) return;
  const auto modules =
      root / "lib" / "x86_64-linux-gnu" /
      ("vips-modules-" + std::to_string(VIPS_MAJOR_VERSION) + "." + std::to_string(VIPS_MINOR_VERSION));
  if (std::filesystem::is_directory(modules, error)) setenv("VIPSHOME", (root / "lib").c_str(), 1);
  const auto certificates = root / "certs" / "ca-certificates.crt";
  if (config.tls_ca_file.empty() && std::filesystem::is_regular_file(certificates, error)) {
    config.tls_ca_file = certificates;
  }
}

// The invocation's deadline (unix milliseconds) on the steady clock, less the margin.
Clock::time_point deadline_cap(const Invocation& invocation) {
  if (!invocation.deadline_ms) return Clock::time_point::max();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return Clock::now() + std::chrono::milliseconds(*invocation.deadline_ms - now_ms) - kDeadlineMargin;
}

// The same plain-text error the handler writes, for refusals made before the handler runs.
Response refusal(http::status status, const std::string& reason) {
  Response response{status, 11};
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  response.body() = reason + "\n";
  response.prepare_payload();
  return response;
}

void answer(RuntimeClient& runtime, Handler& handler, const Config& config, const Invocation& invocation) {
  Response response;
  try {
    const Request request = request_from_event(invocation.event);
    response = handler.handle(request, deadline_cap(invocation));
  } catch (const Error& error) {
    log_event("warn", "refused function URL event " + invocation.request_id + ": " + error.what());
    response = refusal(static_cast<http::status>(http_status(error.kind())), error.what());
  }
  if (config.lambda_streaming) {
    runtime.respond_streaming(invocation.request_id, stream_prelude(response), response.body().to_string());
    return;
  }
  std::string payload = buffered_payload(response);
  if (payload.size() > kBufferedPayloadLimit) {
    // Lambda would refuse it and the client would get a bare error; say why instead.
    log_event("warn",
              "response of " + std::to_string(response.body().size()) + " bytes is over the buffered limit");
    payload = buffered_payload(refusal(http::status::bad_gateway,
                                       "image is too large for a buffered Lambda response (6 MB); use the "
                                       "RESPONSE_STREAM invoke mode"));
  }
  runtime.respond(invocation.request_id, payload);
}

}  // namespace

int run_lambda(const std::function<Config()>& load_config) {
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (!api || !*api) {
    std::cerr << "imageflex lambda: AWS_LAMBDA_RUNTIME_API is not set (this runs inside AWS Lambda)\n";
    return 2;
  }
  RuntimeClient runtime(api);

  std::optional<Config> config;
  std::unique_ptr<Storage> storage;
  std::string failure = "Runtime.InvalidSetting";  // the error type of the step being tried
  try {
    config = load_config();
    failure = "Runtime.LibvipsError";
    use_bundle(*config);
    init_vips("imageflex");
    failure = "Runtime.StorageError";
    storage = open_storage(*config);
  } catch (const std::exception& error) {
    log_event("error", std::string("init failed: ") + error.what());
    runtime.init_error(failure, error.what());
    return 1;
  }
  // As in `serve`: an unreachable store is not fatal, its requests get 503 until it answers.
  try {
    storage->get("_imageflex/startup-check", {});
  } catch (const Error& error) {
    log_event("warn", std::string("storage check failed; serving anyway: ") + error.what());
  }
  Handler handler(*config, *storage);
  log_line(Json{{"level", "info"},
                {"msg", "lambda runtime ready"},
                {"profile", config->profile},
                {"storage", storage->describe()},
                {"mode", config->lambda_streaming ? "stream" : "buffered"}});

  for (;;) {
    const Invocation invocation = runtime.next();
    try {
      answer(runtime, handler, *config, invocation);
    } catch (const NotAnHttpEvent& error) {
      runtime.invocation_error(invocation.request_id, "InvalidEvent", error.what());
    } catch (const std::exception& error) {
      log_event("error", "invocation " + invocation.request_id + " failed: " + error.what());
      runtime.invocation_error(invocation.request_id, "Runtime.HandlerError", error.what());
    }
  }
}

}  // namespace imageflex
