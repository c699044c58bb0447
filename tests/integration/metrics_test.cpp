// /_imageflex/metrics over real sockets: traffic moves the Prometheus counters as it should,
// promtool accepts the exposition, the JSON stats read the same counters, and the monitoring
// files in deploy/monitoring/ (alert rules, dashboard) are valid and name only metrics we export.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "integration.h"

namespace imageflex::test {
namespace {

// Samples of one exposition, by series ("name{label=\"value\",...}") → value.
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// The names every sample uses (with _bucket, _sum, _count), from an exposition.
std::set<std::string> sample_names(const std::string& text) {
  std::set<std::string> names;
  for (const auto& [series, value] : parse_exposition(text)) names.insert(series.substr(0, series.find('{')));
  return names;
}

// promtool from Debian's prometheus package, or "" where it is not installed.
std::string promtool() {
  for (const char* path : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

std::string monitoring_file(const std::string& name) {
  return source_dir() + "/deploy/monitoring/" + name;
}

class MetricsTest : public ::testing::Test {
 protected:
  ServiceUnderTest service_{Backend::kFilesystem};
  std::string metrics() {
    auto response = service_.get("/_imageflex/metrics");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return response.body;
  }
};

TEST_F(MetricsTest, TrafficMovesTheCounters) {
  const auto before = parse_exposition(metrics());  // this request counts as a 200 in `after`
  ASSERT_EQ(service_.get("/landscape.jpg").status, 200);
  ASSERT_EQ(service_.get("/landscape.jpg?w=100&f=webp").status, 200);
  ASSERT_EQ(service_.get("/landscape.jpg?w=100&f=webp").header("x-cache"), "hit-memory");
  ASSERT_EQ(service_.get("/no-such.jpg?w=100").status, 404);
  ASSERT_EQ(service_.get("/landscape.jpg?w=abc").status, 400);
  // A file where the variant folder should be: the next variant is made and served, but its
  // store write fails.
  std::filesystem::remove_all(service_.root() + "/_imageflex");
  write_file(service_.root() + "/_imageflex", "not a folder");
  ASSERT_EQ(service_.get("/landscape.jpg?w=50&f=png").status, 200);
  const std::string text = metrics();
  const auto after = parse_exposition(text);
  auto moved = [&](const std::string& series) {
    EXPECT_TRUE(after.count(series)) << series << " is missing";
    return after.count(series) ? after.at(series) - (before.count(series) ? before.at(series) : 0) : -1;
  };

  EXPECT_EQ(moved(R"(imageflex_http_responses_total{code="200"})"), 5);  // 4 images + the first /metrics
  EXPECT_EQ(moved(R"(imageflex_http_responses_total{code="404"})"), 1);
  EXPECT_EQ(moved(R"(imageflex_http_responses_total{code="400"})"), 1);
  EXPECT_EQ(moved(R"(imageflex_http_responses_total{code="503"})"), 0);
  EXPECT_EQ(moved(R"(imageflex_http_responses_by_cache_total{cache="original"})"), 1);
  EXPECT_EQ(moved(R"(imageflex_http_responses_by_cache_total{cache="miss"})"), 2);
  EXPECT_EQ(moved(R"(imageflex_http_responses_by_cache_total{cache="hit-memory"})"), 1);
  EXPECT_EQ(moved(R"(imageflex_http_responses_by_cache_total{cache="none"})"), 3);  // 2 errors, /metrics
  EXPECT_EQ(moved(R"(imageflex_http_request_duration_seconds_count{cache="miss"})"), 2);
  EXPECT_EQ(moved(R"(imageflex_transforms_total)"), 2);
  EXPECT_EQ(moved(R"(imageflex_transform_duration_seconds_count{format="webp"})"), 1);
  EXPECT_EQ(moved(R"(imageflex_transform_duration_seconds_count{format="png"})"), 1);
  EXPECT_EQ(moved(R"(imageflex_transform_duration_seconds_count{format="jpeg"})"), 0);
  EXPECT_GT(moved(R"(imageflex_transform_duration_seconds_sum{format="webp"})"), 0);
  EXPECT_EQ(moved(R"(imageflex_memory_hits_total)"), 1);
  EXPECT_EQ(moved(R"(imageflex_store_errors_total)"), 1);
  EXPECT_EQ(moved(R"(imageflex_store_operation_errors_total{operation="put"})"), 1);
  EXPECT_EQ(moved(R"(imageflex_store_operation_errors_total{operation="get"})"), 0);
  EXPECT_GE(moved(R"(imageflex_store_operation_duration_seconds_count{operation="get"})"), 4);
  EXPECT_EQ(moved(R"(imageflex_store_operation_duration_seconds_count{operation="put"})"), 2);
  EXPECT_GE(moved("imageflex_store_read_bytes_total"), static_cast<double>(fixture("landscape.jpg").size()));
  EXPECT_GT(moved("imageflex_store_written_bytes_total"), 0) << "the first variant was stored";
  EXPECT_GE(moved("imageflex_http_response_body_bytes_total"),
            static_cast<double>(fixture("landscape.jpg").size()));
  EXPECT_EQ(after.at("imageflex_memory_cache_entries"), 2);
  EXPECT_GT(after.at("imageflex_memory_cache_bytes"), 0);
  // The gauges of the pool (a worker counts its job as running until just after it answers).
  EXPECT_LE(after.at("imageflex_transforms_running"), 1);
  EXPECT_EQ(after.at("imageflex_transform_queue_depth"), 0);
  EXPECT_GT(after.at("process_resident_memory_bytes"), 0);
  // Started within the last hour, by the wall clock.
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(after.at("process_start_time_seconds"), now - 3600);
  EXPECT_LE(after.at("process_start_time_seconds"), now + 1);
  EXPECT_EQ(
      after.count(R"(imageflex_build_info{version=")" + std::string(IMAGEFLEX_VERSION) + R"(",env="dev"})"),
      1u)
      << text.substr(text.find("imageflex_build_info"));

  // Debian's promtool lints the exposition: names, types, HELP, histogram series.
  const std::string tool = promtool();
  if (tool.empty())
    GTEST_SKIP() << "promtool not installed (scripts/install_deps.sh test installs prometheus)";
  const std::string dir = make_temp_dir();
  write_file(dir + "/metrics.txt", text);
  const CommandResult check =
      run_command({"/bin/sh", "-c", tool + " check metrics < " + dir + "/metrics.txt"});
  EXPECT_EQ(check.status, 0) << check.output;
  std::filesystem::remove_all(dir);
}

// The JSON stats and the metrics are two views of one set of counters.
// Operators tell the threads apart in top -H, perf and /proc: each kind has its own name.
TEST_F(MetricsTest, TheServerNamesItsThreads) {
  ASSERT_EQ(service_.get("/landscape.jpg?w=64&f=webp").status, 200);  // a transform has run
  std::multiset<std::string> names;
  const std::string tasks = "/proc/" + std::to_string(service_.server().pid()) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.insert(name);
  }
  for (const char* expected : {"if-io", "if-handler", "if-transform", "if-background", "if-admission"})
    EXPECT_GE(names.count(expected), 1u) << expected;
  EXPECT_EQ(names.count("if-handler"), 16u) << "--handler-threads' default";
}

TEST_F(MetricsTest, JsonStatsReadTheSameCounters) {
  ASSERT_EQ(service_.get("/landscape.jpg?w=64&f=jpeg").status, 200);
  ASSERT_EQ(service_.get("/landscape.jpg?w=64&f=jpeg").status, 200);
  ASSERT_EQ(service_.get("/no-such.jpg").status, 404);
  const long requests = service_.stat("requests");  // this /stats request is counted after it answers
  const auto samples = parse_exposition(metrics());
  double responses = 0;
  for (const auto& [series, value] : samples) {
    if (series.rfind("imageflex_http_responses_total{", 0) == 0) responses += value;
  }
  EXPECT_EQ(responses, static_cast<double>(requests + 1));
  EXPECT_EQ(samples.at("imageflex_transforms_total"), service_.stat("transforms"));
  EXPECT_EQ(samples.at("imageflex_memory_hits_total"), service_.stat("memory_hits"));
  EXPECT_EQ(samples.at("imageflex_memory_cache_entries"), service_.stat("memory_cache_entries"));
  EXPECT_EQ(samples.at("imageflex_store_read_bytes_total"), service_.stat("store_bytes_read"));
  EXPECT_EQ(samples.at("imageflex_memory_reserved_bytes"), service_.stat("memory_reserved_bytes"));
  EXPECT_GT(samples.at("imageflex_memory_reserved_bytes"), 0);
}

// The alert rules are valid for promtool, and every metric the rules and the dashboard use is
// one the service exports, so the three cannot drift apart.
TEST_F(MetricsTest, MonitoringFilesUseOnlyExportedMetrics) {
  const std::set<std::string> exported = sample_names(metrics());
  const std::regex metric_name(R"(\b(imageflex_[a-z0-9_]+|process_[a-z_]+)\b)");
  for (const char* file : {"alerts.yml", "dashboard.json"}) {
    const std::string text = read_file(monitoring_file(file));
    int used = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), metric_name); it != std::sregex_iterator();
         ++it) {
      ++used;
      EXPECT_TRUE(exported.count((*it)[1]))
          << file << " uses " << (*it)[1] << ", which the service does not export";
    }
    EXPECT_GT(used, 5) << file;
  }

  const std::string tool = promtool();
  if (tool.empty())
    GTEST_SKIP() << "promtool not installed (scripts/install_deps.sh test installs prometheus)";
  const CommandResult rules = run_command({tool, "check", "rules", monitoring_file("alerts.yml")});
  EXPECT_EQ(rules.status, 0) << rules.output;
  const CommandResult tests = run_command({tool, "test", "rules", monitoring_file("alerts_test.yml")});
  EXPECT_EQ(tests.status, 0) << tests.output;
}

}  // namespace
}  // namespace imageflex::test
