// Starts the real imageflex binary on an ephemeral port and stops it again.
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace imageflex::test {

class ServerProcess {
 public:
  // Runs `imageflex serve --listen 127.0.0.1:0 ARGS...` with ENV added to the environment
  // and waits for its "listening" line. Fails the test (throws) if it does not start.
  explicit ServerProcess(std::vector<std::string> args, std::map<std::string, std::string> env = {});
  // Runs ARGV (argv[0] an absolute path) with ENV added to the environment and waits until its
  // output matches `ready` (an ECMAScript regex); port() is then 0. Throws if it does not.
  ServerProcess(std::vector<std::string> argv, std::map<std::string, std::string> env,
                const std::string& ready);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::string url(const std::string& path_and_query) const;  // "http://127.0.0.1:PORT" + path
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string output() const;  // stdout so far (the access log)
  // True once stdout matches `pattern` (an ECMAScript regex), waiting up to `seconds`.
  bool wait_for_output(const std::string& pattern, double seconds = 3) const;
  long peak_rss_kb() const;            // VmHWM
  long rss_kb() const;                 // VmRSS: resident now
  void stop();                         // SIGTERM, wait
  void terminate();                    // SIGTERM, no wait
  bool exited_within(double seconds);  // reaps the process if it has exited
  void kill_now();                     // SIGKILL, wait

 private:
  // Starts ARGV and reads its output until `ready` matches; returns its first group (or the match).
  std::string launch(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                     const std::regex& ready);

  pid_t pid_ = -1;
  int port_ = 0;
  int stdout_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::string output_;
};

// Runs a command to completion: exit status and combined output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {});

std::string imageflex_binary();

}  // namespace imageflex::test
