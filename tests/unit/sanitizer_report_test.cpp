// The test support fails a test when a process it started prints a sanitizer report, so
// `make test-sanitize` cannot pass over an error found in the imageflex server or CLI.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "fixtures.h"
#include "server_process.h"

namespace imageflex::test {
namespace {

TEST(SanitizerReportTest, AReportFromACommandFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(
      run_command({"/bin/sh", "-c", "echo 'x.cpp:3:5: runtime error: signed integer overflow' >&2"}),
      "reported a sanitizer error");
  EXPECT_NONFATAL_FAILURE(
      run_command({"/bin/sh", "-c", "echo '==7==ERROR: AddressSanitizer: heap-use-after-free'"}),
      "heap-use-after-free");
}

// A stand-in for the server that starts like imageflex and, like LeakSanitizer, reports at exit.
TEST(SanitizerReportTest, AReportFromTheServerAtExitFailsTheTest) {
  const std::string dir = make_temp_dir();
  const std::string script = dir + "/leaky_server";
  write_file(script,
             "#!/bin/sh\n"
             "trap 'echo \"==9==ERROR: LeakSanitizer: detected memory leaks\" >&2; exit 1' TERM\n"
             "echo 'listening on http://127.0.0.1:9'\n"
             "while :; do sleep 0.05; done\n");
  ::chmod(script.c_str(), 0755);
  const char* configured = std::getenv("IMAGEFLEX_BINARY");
  const std::string previous = configured ? configured : "";
  ::setenv("IMAGEFLEX_BINARY", script.c_str(), 1);
  EXPECT_NONFATAL_FAILURE(ServerProcess({}).stop(), "LeakSanitizer: detected memory leaks");
  if (configured) {
    ::setenv("IMAGEFLEX_BINARY", previous.c_str(), 1);
  } else {
    ::unsetenv("IMAGEFLEX_BINARY");
  }
  remove_tree(dir);
}

TEST(SanitizerReportTest, CleanOutputPasses) {
  auto result = run_command({"/bin/sh", "-c", "echo 'a runtime error page, served as 500'"});
  EXPECT_EQ(result.status, 0);
}

}  // namespace
}  // namespace imageflex::test
