// imageflex: the server (`serve`) and a CLI over the same core (`convert`, `sign`).
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/allocator.h"
#include "common/config.h"
#include "common/config_report.h"
#include "common/error.h"
#include "common/log.h"
#include "common/version.h"
#include "http/handler.h"
#include "http/server.h"
#include "image/vips_runtime.h"
#include "lambda/lambda_loop.h"
#include "request/image_request.h"
#include "request/url_guards.h"
#include "storage/open_storage.h"
#include "variant/make_variant.h"
#include "warm/warm.h"

using namespace imageflex;

namespace {

void print_help() {
  std::cout
      << "imageflex " << kVersion << ": on-the-fly image resizing, conversion and caching\n\n"
      << "usage:\n"
      << "  imageflex serve [--setting value ...]   serve images over HTTP\n"
      << "  imageflex convert IN OUT [w=N] [h=N] [fit=cover|contain|inside|fill] [f=FORMAT] [q=N] "
         "[enlarge=true]\n"
      << "                                          make one variant with the server's pipeline\n"
      << "  imageflex lambda [--setting value ...]  serve AWS Lambda invocations (its bootstrap)\n"
      << "  imageflex sign PATH?QUERY [--expires-in SECONDS]\n"
      << "                                          print the URL signed with the first of sign-keys\n"
      << "  imageflex warm (--manifest FILE | --prefix PREFIX) [--widths 320,640] [--formats avif,webp]\n"
      << "                 [--parallel N] [--setting value ...]\n"
      << "                                          make variants ahead of traffic, into the store\n"
      << "  imageflex config [--setting value ...]  print the settings in effect and where each came from\n"
      << "  imageflex params                        print the query parameters the parser reads\n"
      << "                                          (one a line: the edge keys on them)\n"
      << "  imageflex --help | --version\n\n"
      << "URL parameters (GET /KEY?name=value&...; any other parameter is ignored):\n";
  auto print_parameter = [](const UrlParameter& p) {
    std::string name = "  " + std::string(p.name) + "=" + std::string(p.values);
    std::cout << name << std::string(name.size() < 40 ? 40 - name.size() : 1, ' ') << p.meaning << "\n";
  };
  for (const auto& p : kImageParameters) print_parameter(p);
  for (const auto& p : kSignatureParameters) print_parameter(p);
  std::cout
      << "\nsettings (flag, environment, default); a flag wins over the environment variable, that over\n"
      << "the profile CONFIG-DIR/ENV.toml (--env, IF_ENV: dev, staging or prod), that over the default:\n";
  for (const auto& s : settings()) {
    std::string flag = "  --" + s.flag;
    std::cout << flag << std::string(flag.size() < 28 ? 28 - flag.size() : 1, ' ') << s.env << "  ["
              << s.default_value << "]\n      " << s.help << "\n";
  }
}

// "--name value" and "--name=value" → map; throws std::invalid_argument.
std::map<std::string, std::string> parse_flags(const std::vector<std::string>& args) {
  std::map<std::string, std::string> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument '" + arg + "'");
    auto equals = arg.find('=');
    if (equals != std::string::npos) {
      flags[arg.substr(2, equals - 2)] = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      flags[arg.substr(2)] = args[++i];
    } else {
      throw std::invalid_argument("setting --" + arg.substr(2) + " needs a value");
    }
  }
  return flags;
}

// The settings, with the environment named in every log line from here on.
Config load_settings(const std::vector<std::string>& args) {
  Config config = load_config(parse_flags(args), settings_environment());
  set_log_environment(config.env);
  return config;
}

int serve(const std::vector<std::string>& args) {
  Config config = load_settings(args);
  init_vips("imageflex");
  auto storage = open_storage(config);
  // A wrong key, bucket or endpoint shows up here, in words, rather than as 404s later.
  // An unreachable store is not fatal: requests get 503 until it answers.
  try {
    storage->get("_imageflex/startup-check", {});
  } catch (const Error& error) {
    log_event("warn", std::string("storage check failed; serving anyway: ") + error.what());
  }
  Handler handler(config, *storage);
  Server server(config, handler);
  log_line(Json{{"level", "info"},
                {"msg", "listening on http://" + config.listen.substr(0, config.listen.rfind(':')) + ":" +
                            std::to_string(server.port())},
                {"env", config.env},
                {"profile", config.profile},
                {"storage", storage->describe()},
                {"workers", config.workers},
                {"allocator", describe_allocator()}});
  if (!server.run()) {
    // Requests abandoned at the drain timeout have been answered 503; their threads may be
    // inside a transform or a store call, so exit now rather than wait for them.
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

int convert(const std::vector<std::string>& args) {
  if (args.size() < 2) throw std::invalid_argument("convert needs IN and OUT");
  Config config = load_config({}, settings_environment());
  init_vips("imageflex");
  std::string query;
  for (std::size_t i = 2; i < args.size(); ++i) query += (query.empty() ? "" : "&") + args[i];
  ImageRequest request = parse_request("/input?" + query, config.limits.max_output_dimension, config.presets);

  std::ifstream in(args[0], std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + args[0]);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();

  // Without f=, the output's extension names the format; failing that, the source decides.
  if (!request.format) {
    auto dot = args[1].rfind('.');
    if (dot != std::string::npos) request.format = parse_output_format(args[1].substr(dot + 1));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.limits.deadline_ms);
  Encoded encoded = make_variant(bytes, request, {}, config.limits, config.quality, deadline);
  std::ofstream out(args[1], std::ios::binary);
  out.write(encoded.bytes.data(), static_cast<std::streamsize>(encoded.bytes.size()));
  if (!out) throw std::invalid_argument("cannot write " + args[1]);
  std::cout << args[1] << ": " << format_name(encoded.format) << " " << encoded.size.width << "x"
            << encoded.size.height
            << (encoded.frames > 1 ? " " + std::to_string(encoded.frames) + " frames" : "") << ", "
            << encoded.bytes.size() << " bytes\n";
  return 0;
}

// Prints the target with its signature (and expiry), as the server verifies it.
// Takes a command's own flag out of the settings' flags.
std::optional<std::string> take_flag(std::map<std::string, std::string>& flags, const std::string& name) {
  auto found = flags.find(name);
  if (found == flags.end()) return std::nullopt;
  std::string value = found->second;
  flags.erase(found);
  return value;
}

int sign(const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind('/', 0) != 0) throw std::invalid_argument("sign needs /PATH[?QUERY]");
  auto flags = parse_flags({args.begin() + 1, args.end()});
  std::optional<std::int64_t> expires;
  if (const auto text = take_flag(flags, "expires-in")) {
    std::int64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
    if (text->empty() || ec != std::errc() || ptr != text->data() + text->size() || seconds < 1) {
      throw std::invalid_argument("invalid expires-in '" + *text + "': expected seconds, 1 or more");
    }
    expires = static_cast<std::int64_t>(std::time(nullptr)) + seconds;
  }
  const Config config = load_config(flags, settings_environment());
  const auto& keys = config.url_guards.signing.keys;
  if (keys.empty()) throw std::invalid_argument("sign needs a key: --sign-keys or IF_SIGN_KEYS");
  std::cout << sign_target(args[0], keys.front(), expires, config.limits.max_output_dimension) << "\n";
  return 0;
}

// The edge (deploy/edge) builds its cache key and the query it forwards from this list, so the
// parser stays the one place that names the parameters.
int print_params() {
  for (auto name : kQueryParameters) std::cout << name << "\n";
  for (auto name : kSignatureParameterNames) std::cout << name << "\n";
  return 0;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::atomic<bool> warm_stop{false};

// The first Ctrl-C stops warm-up after the requests in flight; a second one kills at once.
void on_interrupt(int /*signal*/) {
  warm_stop.store(true);
  std::signal(SIGINT, SIG_DFL);
}

int warm(const std::vector<std::string>& args) {
  auto flags = parse_flags(args);
  const auto manifest = take_flag(flags, "manifest");
  const auto prefix = take_flag(flags, "prefix");
  const auto widths = take_flag(flags, "widths");
  const auto formats = take_flag(flags, "formats");
  const auto parallel = take_flag(flags, "parallel");
  if (manifest.has_value() == prefix.has_value()) {
    throw std::invalid_argument("warm needs --manifest FILE or --prefix PREFIX (\"\" for the whole store)");
  }
  WarmPlan plan;
  for (const auto& width : split_list(widths.value_or(""))) {
    std::size_t end = 0;
    int value = 0;
    try {
      value = std::stoi(width, &end);
    } catch (const std::exception&) {
      end = 0;
    }
    if (end != width.size() || value < 1) throw std::invalid_argument("invalid widths '" + width + "'");
    plan.widths.push_back(value);
  }
  plan.formats = split_list(formats.value_or(""));
  if (plan.widths.empty() && plan.formats.empty()) {
    throw std::invalid_argument("warm needs --widths and/or --formats: nothing to make");
  }
  plan.variants = warm_variants(plan.widths, plan.formats);
  if (parallel) {
    plan.parallel = std::atoi(parallel->c_str());
    if (plan.parallel < 1) throw std::invalid_argument("invalid parallel '" + *parallel + "'");
  }
  const Config config = load_config(flags, settings_environment());
  set_log_environment(config.env);
  init_vips("imageflex");
  auto storage = open_storage(config);
  if (manifest) {
    std::ifstream in(*manifest, std::ios::binary);
    if (!in) throw std::invalid_argument("cannot read manifest " + *manifest);
    std::stringstream text;
    text << in.rdbuf();
    plan.keys = parse_manifest(text.str());
  } else {
    plan.keys = list_originals(*storage, *prefix);
  }
  std::signal(SIGINT, on_interrupt);
  const WarmSummary summary = run_warm(config, *storage, plan, warm_stop);
  std::cout << format_summary(summary) << std::flush;
  if (summary.not_started > 0 || warm_stop.load()) return 130;  // as a shell reports Ctrl-C
  return summary.failed.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string command = args.empty() ? "--help" : args.front();
  std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  try {
    if (command == "--help" || command == "-h" || command == "help") {
      print_help();
      return 0;
    }
    if (command == "--version") {
      std::cout << "imageflex " << kVersion << "\n";
      return 0;
    }
    if (command == "serve") return serve(rest);
    if (command == "convert") return convert(rest);
    if (command == "sign") return sign(rest);
    if (command == "params") return print_params();
    // As `serve`: the profile of --env / IF_ENV, and the environment named in every log line.
    if (command == "lambda") return run_lambda([&] { return load_settings(rest); });
    if (command == "warm") return warm(rest);
    if (command == "config") {
      std::cout << config_report(resolve_config(parse_flags(rest), settings_environment()));
      return 0;
    }
    std::cerr << "imageflex: unknown command '" << command << "' (try --help)\n";
    return 2;
  } catch (const Error& error) {
    std::cerr << "imageflex: " << error.what() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "imageflex: " << error.what() << "\n";
    return 2;
  }
}
