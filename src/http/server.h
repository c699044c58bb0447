// The HTTP front: Beast sessions on a few I/O threads. A session reads a request,
// hands it to a handler thread, and writes the response back; keep-alive throughout.
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
  void run();  // until SIGINT or SIGTERM

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imageflex
