// The response body as Beast serializes it: shared bytes are sent from where they lie (no
// copy), an object left in the store is read in pieces until its end, and a store that
// fails mid-body ends the write with an error rather than a short body.
#include "http/response_body.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "http/responses.h"

namespace imageflex::test {
namespace {

// An object in a "store" that can fail after `fail_after` bytes.
class FakeObject final : public OpenObject {
 public:
  explicit FakeObject(std::string bytes, std::uint64_t fail_after = UINT64_MAX)
      : bytes_(std::move(bytes)), fail_after_(fail_after) {}
  std::uint64_t size() const override { return bytes_.size(); }
  std::size_t read(std::uint64_t offset, char* into, std::size_t length) const override {
    if (offset >= fail_after_) throw std::runtime_error("injected failure");
    ++reads;
    return bytes_.copy(into, length, static_cast<std::size_t>(offset));
  }
  mutable int reads = 0;

 private:
  std::string bytes_;
  std::uint64_t fail_after_;
};

// Everything the writer gives, piece by piece, until it ends or fails.
struct Written {
  std::string bytes;
  int pieces = 0;
  boost::beast::error_code error;
};

Written write_all(const Response& response) {
  PayloadWriter writer(response.base(), response.body());
  Written written;
  writer.init(written.error);
  while (!written.error) {
    auto piece = writer.get(written.error);
    if (!piece) break;
    written.bytes.append(static_cast<const char*>(piece->first.data()), piece->first.size());
    ++written.pieces;
    EXPECT_LE(piece->first.size(), PayloadWriter::kPieceBytes);
    if (!piece->second) break;
  }
  return written;
}

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 7 % 251);
  return bytes;
}

TEST(ResponseBodyTest, SharedBytesAreSentFromWhereTheyLie) {
  auto bytes = std::make_shared<const std::string>(pattern(300000));
  Response response;
  response.body() = Payload::shared(bytes);
  response.prepare_payload();
  EXPECT_EQ(response[http::field::content_length], "300000");
  PayloadWriter writer(response.base(), response.body());
  boost::beast::error_code error;
  auto piece = writer.get(error);
  ASSERT_TRUE(piece);
  EXPECT_EQ(piece->first.data(), bytes->data()) << "the shared bytes themselves, not a copy";
  EXPECT_EQ(piece->first.size(), bytes->size());
  EXPECT_EQ(bytes.use_count(), 2) << "held by the caller and the response";
}

TEST(ResponseBodyTest, AStreamedObjectIsReadInPiecesToItsEnd) {
  const std::string bytes = pattern(3 * PayloadWriter::kPieceBytes + 123);
  auto object = std::make_shared<FakeObject>(bytes);
  Response response;
  response.body() = Payload::streamed(object);
  response.prepare_payload();
  EXPECT_EQ(response[http::field::content_length], std::to_string(bytes.size()));
  EXPECT_EQ(object->reads, 0) << "nothing read before it is sent";
  const Written written = write_all(response);
  EXPECT_FALSE(written.error);
  EXPECT_EQ(written.pieces, 4);
  EXPECT_TRUE(written.bytes == bytes);
  EXPECT_EQ(response.body().first_bytes(10), bytes.substr(0, 10));
  EXPECT_TRUE(response.body().to_string() == bytes);
}

TEST(ResponseBodyTest, AStoreThatFailsMidBodyEndsTheWriteWithAnError) {
  const std::string bytes = pattern(2 * PayloadWriter::kPieceBytes + 5);
  Response failing;
  failing.body() = Payload::streamed(std::make_shared<FakeObject>(bytes, PayloadWriter::kPieceBytes));
  const Written written = write_all(failing);
  EXPECT_TRUE(written.error) << "a short body would break the Content-Length already sent";
  EXPECT_EQ(written.bytes.size(), PayloadWriter::kPieceBytes);
}

TEST(ResponseBodyTest, TextAndEmptyBodies) {
  Response response;
  EXPECT_TRUE(response.body().empty());
  EXPECT_EQ(write_all(response).bytes, "");
  response.body() = std::string("ok\n");
  EXPECT_EQ(response.body().size(), 3u);
  EXPECT_EQ(write_all(response).bytes, "ok\n");
}

}  // namespace
}  // namespace imageflex::test
