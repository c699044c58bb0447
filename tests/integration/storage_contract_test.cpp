// The storage contract (tests/support/storage_contract.h) on the real backends: a
// folder, and a bucket on the real Swift S3 server.
#include "storage_contract.h"

#include "integration.h"
#include "storage/fs_storage.h"

namespace imageflex::test {
namespace {

// A folder; with HELD_FILES, one that holds variant files open between reads as the server does.
std::shared_ptr<Storage> open_folder(std::size_t held_files = 0) {
  const std::string root = make_temp_dir();
  Storage* store = held_files > 0 ? new FsStorage(root, FsHousekeeping{}, held_files) : new FsStorage(root);
  // The folder goes when the store does.
  return std::shared_ptr<Storage>(store, [root](Storage* opened) {
    delete opened;
    remove_tree(root);
  });
}

std::shared_ptr<Storage> open_bucket() {
  return SwiftServer::shared().storage(SwiftServer::shared().new_bucket());
}

// A variant's folder is opened first and made only when missing: one removed since the last
// write (the housekeeper removes empty ones) is made again, and a file in the way is an error.
TEST(FolderStoreTest, MakesAFolderRemovedSinceTheLastWriteAndRefusesAFileInTheWay) {
  const std::string root = make_temp_dir();
  {
    FsStorage store(root);
    store.put("_imageflex/a/b/one", "1", {});
    store.put("_imageflex/a/b/two", "2", {});  // into the folder that exists
    remove_tree(root + "/_imageflex/a");
    store.put("_imageflex/a/b/three", "3", {});
    EXPECT_EQ(store.get("_imageflex/a/b/three", {}).object.bytes, "3");
    EXPECT_EQ(store.get("_imageflex/a/b/two", {}).status, GetStatus::kNotFound);
    store.put("plain", "file", {});
    try {
      store.put("plain/variant", "x", {});
      ADD_FAILURE() << "a write beneath a file succeeded";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kStoreUnavailable);
      EXPECT_EQ(std::string(error.what()).find(root), std::string::npos)
          << "no internal path: " << error.what();
    }
  }
  remove_tree(root);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StorageContractTest,
    ::testing::Values(ContractBackend{backend_name(Backend::kFilesystem), [] { return open_folder(); }},
                      ContractBackend{"FilesystemHeldFiles", [] { return open_folder(16); }},
                      ContractBackend{backend_name(Backend::kS3), open_bucket, true}),
    contract_backend_name);

}  // namespace
}  // namespace imageflex::test
