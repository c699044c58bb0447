#include "http/response_body.h"

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <exception>

#include "common/log.h"

namespace imageflex {

Payload& Payload::operator=(std::string text) {
  bytes_ = std::make_shared<const std::string>(std::move(text));
  object_.reset();
  return *this;
}

Payload Payload::shared(std::shared_ptr<const std::string> bytes) {
  Payload body;
  body.bytes_ = std::move(bytes);
  return body;
}

Payload Payload::streamed(std::shared_ptr<const OpenObject> object) {
  Payload body;
  body.object_ = std::move(object);
  return body;
}

Payload Payload::of(Object object) {
  if (object.opened) return streamed(std::move(object.opened));
  return shared(std::make_shared<const std::string>(std::move(object.bytes)));
}

std::uint64_t Payload::size() const {
  if (object_) return object_->size();
  return bytes_ ? bytes_->size() : 0;
}

std::string Payload::first_bytes(std::size_t length) const {
  if (!object_) return bytes_ ? bytes_->substr(0, length) : std::string();
  std::string start(static_cast<std::size_t>(std::min<std::uint64_t>(length, object_->size())), '\0');
  start.resize(object_->read(0, start.data(), start.size()));
  return start;
}

std::string Payload::to_string() const {
  return first_bytes(static_cast<std::size_t>(size()));
}

boost::optional<std::pair<PayloadWriter::const_buffers_type, bool>> PayloadWriter::get(
    boost::beast::error_code& ec) {
  ec = {};
  if (!body_.object_) {
    if (!body_.bytes_) return boost::none;
    return {{const_buffers_type{body_.bytes_->data(), body_.bytes_->size()}, false}};
  }
  const std::uint64_t size = body_.object_->size();
  if (offset_ >= size) return boost::none;
  // Sized to the body when it is smaller, and not zeroed first: the read fills it.
  if (!piece_) piece_ = std::make_unique_for_overwrite<char[]>(piece_size(size));
  std::size_t read = 0;
  std::string problem = "the object ended before its size";
  try {
    read = body_.object_->read(
        offset_, piece_.get(),
        static_cast<std::size_t>(std::min<std::uint64_t>(piece_size(size), size - offset_)));
  } catch (const std::exception& error) {
    problem = error.what();
  }
  if (read == 0) {
    // The Content-Length sent cannot be kept: the connection is closed mid-body.
    log_event("warn", "response cut at byte " + std::to_string(offset_) + " of " + std::to_string(size) +
                          ": " + problem);
    ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
    return boost::none;
  }
  offset_ += read;
  return {{const_buffers_type{piece_.get(), read}, offset_ < size}};
}

}  // namespace imageflex
