// The in-memory store the handler tests run on: the same storage contract as the real
// backends (so a handler test on it means what it would on a folder or S3), and the
// test hooks those tests script it with.
#include "memory_storage.h"

#include <gtest/gtest.h>

#include <future>

#include "common/error.h"
#include "storage_contract.h"

namespace imageflex::test {
namespace {

INSTANTIATE_TEST_SUITE_P(Backends, StorageContractTest,
                         ::testing::Values(ContractBackend{"Memory",
                                                           [] { return std::make_shared<MemoryStorage>(); }}),
                         contract_backend_name);

TEST(MemoryStorageTest, CountsCallsPerOperationAndKey) {
  MemoryStorage store;
  store.put("a", "1", {});
  store.stat("a");
  store.stat("b");
  store.get("a", {});
  EXPECT_EQ(store.calls(StoreOp::kPut), 1);
  EXPECT_EQ(store.calls(StoreOp::kStat), 2);
  EXPECT_EQ(store.calls(StoreOp::kStat, "b"), 1);
  EXPECT_EQ(store.calls(StoreOp::kGet, "b"), 0);
  EXPECT_EQ(store.calls(StoreOp::kRemove), 0);
  EXPECT_EQ(store.bytes_read(), 1u);
}

TEST(MemoryStorageTest, FailsExactlyTheNextNCallsOfAnOperation) {
  MemoryStorage store;
  store.put("a", "1", {});
  store.fail_next(StoreOp::kGet, 2);
  EXPECT_NO_THROW(store.stat("a"));  // another operation is not affected
  for (int i = 0; i < 2; ++i) {
    try {
      store.get("a", {});
      ADD_FAILURE() << "call " << i << " should have failed";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kStoreUnavailable);
    }
  }
  EXPECT_EQ(store.get("a", {}).status, GetStatus::kOk);
}

TEST(MemoryStorageTest, AHookCanChangeTheStoreBetweenCalls) {
  MemoryStorage store;
  store.put("a", "old", {});
  const std::string old_etag = store.stat("a")->etag;
  // Replace the object just before the get: the get sees the new version. The hook's own
  // put is neither hooked (no recursion) nor counted.
  store.set_hook([&](StoreOp op, const std::string& key) {
    if (op == StoreOp::kGet && key == "a") store.put("a", "new", {});
  });
  GetResult got = store.get("a", {});
  EXPECT_EQ(got.object.bytes, "new");
  EXPECT_NE(got.object.info.etag, old_etag);
  EXPECT_EQ(store.calls(StoreOp::kPut), 1);
}

TEST(MemoryStorageTest, AGateHoldsACallUntilOpened) {
  MemoryStorage store;
  store.put("a", "1", {});
  Gate gate;
  store.set_hook([&](StoreOp op, const std::string&) {
    if (op == StoreOp::kGet) gate.pass();
  });
  auto reader = std::async(std::launch::async, [&] { return store.get("a", {}).status; });
  ASSERT_TRUE(gate.wait_for_arrivals(1, std::chrono::seconds(5)));
  EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout) << "not held";
  gate.open();
  EXPECT_EQ(reader.get(), GetStatus::kOk);
}

TEST(MemoryStorageTest, PutKeepsEverythingItWasGiven) {
  MemoryStorage store;
  PutOptions options;
  options.content_type = "image/webp";
  options.cache_control = "public, max-age=60";
  options.metadata["source-etag"] = "abc";
  store.put("v", "bytes", options);
  auto stored = store.peek("v");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->bytes, "bytes");
  EXPECT_EQ(stored->cache_control, "public, max-age=60");
  EXPECT_EQ(stored->info.metadata.at("source-etag"), "abc");
  EXPECT_EQ(store.keys(), std::vector<std::string>{"v"});
  EXPECT_EQ(store.calls(StoreOp::kStat), 0) << "peek and keys are not counted";
}

}  // namespace
}  // namespace imageflex::test
