// `imageflex warm` on a folder and on Swift S3: it makes what a request would make (a
// later request is a hit), a rerun finds everything there, failures carry their reason,
// and Ctrl-C stops it cleanly.
#include <filesystem>
#include <regex>

#include "integration.h"

namespace imageflex::test {
namespace {

class WarmTest : public ServiceTest {
 protected:
  // `imageflex warm ARGS` on the service's store.
  CommandResult warm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {imageflex_binary(), "warm"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), service().args().begin(), service().args().end());
    return run_command(argv, service().env());
  }
  std::string manifest(const std::string& text) {
    dir_ = make_temp_dir();
    write_file(dir_ + "/manifest.txt", text);
    return dir_ + "/manifest.txt";
  }
  void TearDown() override {
    if (!dir_.empty()) remove_tree(dir_);
    ServiceTest::TearDown();
  }
  std::string dir_;
};

// The counts of the summary line.
struct Counts {
  int total = -1, made = -1, already = -1, failed = -1;
};
Counts summary_counts(const std::string& output) {
  std::smatch m;
  Counts c;
  if (std::regex_search(
          output, m,
          std::regex("warm: ([0-9]+) variants: ([0-9]+) made, ([0-9]+) already there, ([0-9]+) failed"))) {
    c = {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4])};
  }
  return c;
}

TEST_P(WarmTest, MakesWhatRequestsThenHitAndARerunFindsItAllThere) {
  const std::string list = manifest("# originals\nlandscape.jpg\n/alpha.png\n\n");
  auto first = warm({"--manifest", list, "--widths", "64,128", "--formats", "webp,jpeg"});
  EXPECT_EQ(first.status, 0) << first.output;
  const Counts made = summary_counts(first.output);
  EXPECT_EQ(made.total, 8) << first.output;
  EXPECT_EQ(made.made, 8) << first.output;
  EXPECT_EQ(made.failed, 0) << first.output;

  // The server finds what warm made: a hit in the store, not a miss.
  auto served = get("/landscape.jpg?w=128&f=webp");
  expect_image(served, "webpload", 128, 96);
  EXPECT_EQ(served.header("x-cache"), "hit-store");
  EXPECT_EQ(service().stat("transforms"), 0);

  auto again = warm({"--manifest", list, "--widths", "64,128", "--formats", "webp,jpeg"});
  EXPECT_EQ(again.status, 0) << again.output;
  const Counts rerun = summary_counts(again.output);
  EXPECT_EQ(rerun.made, 0) << again.output;
  EXPECT_EQ(rerun.already, 8) << again.output;
}

TEST_P(WarmTest, ABadKeyFailsWithItsReasonAndTheRestIsMade) {
  const std::string list = manifest("landscape.jpg\nno-such.jpg\n");
  auto result = warm({"--manifest", list, "--widths", "32"});
  EXPECT_EQ(result.status, 1) << result.output;
  const Counts counts = summary_counts(result.output);
  EXPECT_EQ(counts.made, 1) << result.output;
  EXPECT_EQ(counts.failed, 1) << result.output;
  EXPECT_NE(result.output.find("failed: /no-such.jpg?w=32: 404 no such image"), std::string::npos)
      << result.output;
}

TEST_P(WarmTest, APrefixOfTheStoreNamesTheOriginals) {
  auto result = warm({"--prefix", "landscape.", "--formats", "webp"});
  const Counts counts = summary_counts(result.output);
  // landscape.jpg, landscape.png, ... : every one under the prefix, and nothing under _imageflex/.
  EXPECT_GE(counts.total, 2) << result.output;
  EXPECT_EQ(counts.made + counts.failed, counts.total) << result.output;
  EXPECT_EQ(get("/landscape.png?f=webp").header("x-cache"), "hit-store");
}

TEST_P(WarmTest, CtrlCStopsCleanlyAndARerunResumes) {
  // Enough slow variants (AVIF, one at a time) to still be running when SIGINT comes.
  std::string widths;
  for (int w = 100; w < 640; w += 7) widths += (widths.empty() ? "" : ",") + std::to_string(w);
  const std::string list = manifest("landscape.jpg\n");
  std::string command;
  for (const auto& arg : service().args()) command += " '" + arg + "'";
  // SIGINT once warm has said what it will make (its handler is installed by then).
  const std::string err = dir_ + "/stderr";
  auto interrupted =
      run_command({"/bin/bash", "-c",
                   "'" + imageflex_binary() + "' warm --manifest '" + list + "' --widths " + widths +
                       " --formats avif --parallel 1" + command + " 2>'" + err + "' & pid=$!; " +
                       "for i in $(seq 300); do grep -q 'at once' '" + err + "' && break; sleep 0.1; done; " +
                       "sleep 0.5; kill -INT $pid; wait $pid; echo \"exit=$?\"; cat '" + err + "'"},
                  service().env());
  EXPECT_NE(interrupted.output.find("exit=130"), std::string::npos) << interrupted.output;
  EXPECT_NE(interrupted.output.find("not started (interrupted)"), std::string::npos) << interrupted.output;
  const Counts stopped = summary_counts(interrupted.output);
  EXPECT_EQ(stopped.failed, 0) << interrupted.output;
  if (service().backend() == Backend::kFilesystem) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(service().root())) {
      EXPECT_EQ(entry.path().filename().string().rfind(".tmp-", 0), std::string::npos) << entry.path();
    }
  }
  auto resumed = warm({"--manifest", list, "--widths", widths, "--formats", "avif", "--parallel", "2"});
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  const Counts rest = summary_counts(resumed.output);
  EXPECT_EQ(rest.already, stopped.made) << resumed.output;
  EXPECT_EQ(rest.made + rest.already, rest.total) << resumed.output;
}

IMAGEFLEX_ON_EVERY_BACKEND(WarmTest);

}  // namespace
}  // namespace imageflex::test
