// The storage contract (tests/support/storage_contract.h) on the real backends: a
// folder, and a bucket on the real Swift S3 server.
#include "storage_contract.h"

#include <sys/xattr.h>

#include <fstream>

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

// What a write records (length, type, Cache-Control, metadata) is one xattr: one system call
// on a miss, one on a read. What is asked for comes back through stat.
TEST(FolderStoreTest, RecordsWhatItWritesInOneXattr) {
  const std::string root = make_temp_dir();
  {
    FsStorage store(root);
    PutOptions put;
    put.content_type = "image/webp";
    put.cache_control = "public, max-age=60";
    put.metadata["source-etag"] = "abc-123";
    store.put("_imageflex/v/one", "variant bytes", put);
    char names[1024];
    const auto listed = ::listxattr((root + "/_imageflex/v/one").c_str(), names, sizeof names);
    ASSERT_GT(listed, 0) << "this test needs a filesystem with user xattrs";
    EXPECT_EQ(std::string(names, static_cast<std::size_t>(listed)), std::string("user.imageflex") + '\0');
    const auto info = store.stat("_imageflex/v/one");
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->content_type, "image/webp");
    EXPECT_EQ(info->metadata.at("source-etag"), "abc-123");
    EXPECT_EQ(info->size, 13u);
  }
  remove_tree(root);
}

// Variants written before the one xattr kept an xattr per name: they are still read, and one
// shorter than its recorded length (a crash after the rename) is still no object.
TEST(FolderStoreTest, ReadsFilesWrittenWithAnXattrPerName) {
  const std::string root = make_temp_dir();
  auto write_old = [&](const std::string& name, const std::string& bytes, const std::string& length) {
    const std::string path = root + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    auto set = [&](const char* xattr, const std::string& value) {
      ASSERT_EQ(::setxattr(path.c_str(), xattr, value.data(), value.size(), 0), 0) << xattr;
    };
    set("user.imageflex.length", length);
    set("user.imageflex.content-type", "image/avif");
    set("user.imageflex.cache-control", "public, max-age=60");
    set("user.imageflex.meta.source-etag", "old-etag");
  };
  write_old("whole", "12345", "5");
  write_old("torn", "123", "5");
  {
    FsStorage store(root);
    const auto whole = store.get("whole", {});
    ASSERT_EQ(whole.status, GetStatus::kOk);
    EXPECT_EQ(whole.object.bytes, "12345");
    EXPECT_EQ(whole.object.info.content_type, "image/avif");
    EXPECT_EQ(whole.object.info.metadata.at("source-etag"), "old-etag");
    EXPECT_EQ(store.get("torn", {}).status, GetStatus::kNotFound);
    EXPECT_FALSE(store.stat("torn").has_value());
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
