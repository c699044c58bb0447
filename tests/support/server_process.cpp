#include "server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <stdexcept>

extern char** environ;

namespace imageflex::test {
namespace {

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// fork + exec with stdout (and stderr) into a pipe; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            int* out_fd) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  auto env_strings = merged_environment(env);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  *out_fd = pipe_fds[0];
  return pid;
}

// A sanitized build (the asan-ubsan preset) prints its reports on stderr, which a child
// shares with stdout here; LeakSanitizer's only comes at exit. Any report fails the test.
void expect_no_sanitizer_report(const std::string& output, const std::string& command) {
  std::size_t first = std::string::npos;
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: "}) {
    first = std::min(first, output.find(marker));
  }
  if (first == std::string::npos) return;
  const auto line_start = output.rfind('\n', first);
  ADD_FAILURE() << command << " reported a sanitizer error:\n"
                << output.substr(line_start == std::string::npos ? 0 : line_start + 1, 8000);
}

// A memory figure (KiB) from /proc/PID/status, such as "VmHWM:"; -1 when absent.
long status_kb(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return -1;
}

}  // namespace

std::string imageflex_binary() {
  if (const char* path = std::getenv("IMAGEFLEX_BINARY")) return path;
  return IMAGEFLEX_BINARY;
}

ServerProcess::ServerProcess(std::vector<std::string> args, std::map<std::string, std::string> env) {
  std::vector<std::string> argv = {imageflex_binary(), "serve", "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!env.count("IF_ACCESS_LOG")) env["IF_ACCESS_LOG"] = "true";
  port_ = std::stoi(launch(argv, env, std::regex("listening on http://[^:]+:([0-9]+)")));
}

ServerProcess::ServerProcess(std::vector<std::string> argv, std::map<std::string, std::string> env,
                             const std::string& ready) {
  launch(argv, env, std::regex(ready));
}

std::string ServerProcess::launch(const std::vector<std::string>& argv,
                                  const std::map<std::string, std::string>& env, const std::regex& ready) {
  pid_ = spawn(argv, env, &stdout_fd_);

  // Wait for the line that says it is ready (e.g. "listening on http://HOST:PORT").
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string seen;
  std::smatch match;
  bool started = false;
  while (!started && std::chrono::steady_clock::now() < give_up) {
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<std::size_t>(n));
    started = std::regex_search(seen, match, ready);
  }
  output_ = seen;
  if (!started) {
    kill_now();
    throw std::runtime_error(argv[0] + " did not start: " + seen);
  }
  std::string first_group = match.size() > 1 ? match[1].str() : match[0].str();
  reader_ = std::thread([this] {
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
      if (n <= 0) return;
      std::lock_guard lock(mutex_);
      output_.append(buf, static_cast<std::size_t>(n));
    }
  });
  return first_group;
}

ServerProcess::~ServerProcess() {
  stop();
}

std::string ServerProcess::url(const std::string& path_and_query) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path_and_query;
}

std::string ServerProcess::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

bool ServerProcess::wait_for_output(const std::string& pattern, double seconds) const {
  const std::regex wanted(pattern);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    if (std::regex_search(output(), wanted)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < give_up);
  return false;
}

long ServerProcess::peak_rss_kb() const {
  return status_kb(pid_, "VmHWM:");
}

long ServerProcess::rss_kb() const {
  return status_kb(pid_, "VmRSS:");
}

void ServerProcess::stop() {
  terminate();
  exited_within(15);
  kill_now();
}

void ServerProcess::terminate() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

bool ServerProcess::exited_within(double seconds) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (pid_ > 0 && std::chrono::steady_clock::now() < give_up) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pid_ <= 0;
}

void ServerProcess::kill_now() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  if (reader_.joinable()) {
    reader_.join();  // the output is complete: the process has exited and the pipe is drained
    expect_no_sanitizer_report(output(), "imageflex serve");
  }
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env) {
  int fd = -1;
  pid_t pid = spawn(argv, env, &fd);
  CommandResult result;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    result.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  expect_no_sanitizer_report(result.output, argv.front());
  return result;
}

}  // namespace imageflex::test
