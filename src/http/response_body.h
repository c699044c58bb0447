// The body of every response, as a Beast Body type: bytes held in memory and shared (the
// memory cache's copy of a variant, however many clients read it at once; or a text the
// response owns), or an object left in the store and read a piece at a time as the client
// takes it. A client that reads slowly, or never, then holds one piece of a large
// original, not a copy of it.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "storage/storage.h"

namespace imageflex {

// What a response sends: the value type of ResponseBody.
class Payload {
 public:
  Payload() = default;
  // A text of the response's own (errors, health, stats).
  Payload& operator=(std::string text);
  // Bytes shared with others (the memory cache, other responses): never copied.
  static Payload shared(std::shared_ptr<const std::string> bytes);
  // An object read from the store as it is sent; its bytes are not in memory.
  static Payload streamed(std::shared_ptr<const OpenObject> object);
  // A store's answer: its bytes, now the response's, or the object it left open.
  static Payload of(Object object);

  std::uint64_t size() const;
  bool empty() const { return size() == 0; }
  // Up to `length` bytes from the start, reading a streamed body's start (a format sniff).
  std::string first_bytes(std::size_t length) const;
  // The whole body as one string, reading a streamed one whole: for Lambda's payloads and
  // tests, which need it whole anyway. The server never calls it.
  std::string to_string() const;

 private:
  friend class PayloadWriter;
  std::shared_ptr<const std::string> bytes_;  // in memory (none: empty)
  std::shared_ptr<const OpenObject> object_;  // or in the store
};

// Serializes a payload (the BodyWriter of Beast's Body concept): bytes in memory in one
// buffer, a streamed object in pieces of kPieceBytes, each read when the last is sent.
class PayloadWriter {
 public:
  // NOLINTNEXTLINE(readability-identifier-naming): Beast's name
  using const_buffers_type = boost::asio::const_buffer;
  // Per response being sent from the store: enough to keep a socket's writes large.
  static constexpr std::size_t kPieceBytes = std::size_t{64} << 10;

  template <bool isRequest, class Fields>
  PayloadWriter(const boost::beast::http::header<isRequest, Fields>& /*head*/, const Payload& body)
      : body_(body) {}

  void init(boost::beast::error_code& ec) { ec = {}; }
  boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec);

 private:
  static std::size_t piece_size(std::uint64_t body_size) {
    return static_cast<std::size_t>(std::min<std::uint64_t>(kPieceBytes, body_size));
  }

  const Payload& body_;
  std::uint64_t offset_ = 0;       // of the next piece of a streamed object
  std::unique_ptr<char[]> piece_;  // the piece being sent
};

// The Body type of every response (Beast's Body concept names its parts).
struct ResponseBody {
  using value_type = Payload;    // NOLINT(readability-identifier-naming): Beast's name
  using writer = PayloadWriter;  // NOLINT(readability-identifier-naming): Beast's name
  static std::uint64_t size(const Payload& body) { return body.size(); }
};

}  // namespace imageflex
