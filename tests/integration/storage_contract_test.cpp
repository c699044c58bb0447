// The storage contract (tests/support/storage_contract.h) on the real backends: a
// folder, and a bucket on the real Swift S3 server.
#include "storage_contract.h"

#include "integration.h"
#include "storage/fs_storage.h"

namespace imageflex::test {
namespace {

std::shared_ptr<Storage> open_folder() {
  const std::string root = make_temp_dir();
  // The folder goes when the store does.
  return std::shared_ptr<Storage>(new FsStorage(root), [root](Storage* store) {
    delete store;
    remove_tree(root);
  });
}

std::shared_ptr<Storage> open_bucket() {
  return SwiftServer::shared().storage(SwiftServer::shared().new_bucket());
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageContractTest,
                         ::testing::Values(ContractBackend{backend_name(Backend::kFilesystem), open_folder},
                                           ContractBackend{backend_name(Backend::kS3), open_bucket, true}),
                         contract_backend_name);

}  // namespace
}  // namespace imageflex::test
