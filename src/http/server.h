// The HTTP front: Beast sessions on a few I/O threads. A session reads a request,
// hands it to a handler thread (health and stats it answers itself), and writes the
// response back; keep-alive throughout. It guards itself against hostile clients:
// framing it cannot trust, slow heads, slow readers, too many connections, and it
// stops within its drain timeout.
#pragma once

#include <memory>

#include "common/config.h"
#include "http/handler.h"

namespace imageflex {

class Server {
 public:
  Server(const Config& config, Handler& handler);  // binds; throws std::runtime_error
  ~Server();
  unsigned short port() const;
  // Serves until SIGINT or SIGTERM, then drains (up to drain_timeout_ms). False when
  // requests were still running at the drain timeout (answered 503): their threads may
  // still be busy, so the caller should exit without waiting for them.
  bool run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imageflex
