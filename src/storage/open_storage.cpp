#include "storage/open_storage.h"

#include "storage/fs_storage.h"
#include "storage/s3_storage.h"

namespace imageflex {

std::unique_ptr<Storage> open_storage(const Config& config) {
  if (config.storage.rfind("s3://", 0) == 0) {
    S3Config s3 = s3_config_from(config.storage, config.s3);
    s3.ca_file = config.tls_ca_file;
    return std::make_unique<S3Storage>(std::move(s3), aws_credential_chain(config.aws));
  }
  std::string root = config.storage.rfind("file:", 0) == 0 ? config.storage.substr(5) : config.root;
  FsHousekeeping housekeeping;
  housekeeping.quota_bytes = config.variant_quota_bytes;
  housekeeping.temp_max_age = std::chrono::seconds(config.temp_max_age_s);
  // A held variant file is checked against its name as often as an original's version is.
  return std::make_unique<FsStorage>(root, housekeeping, static_cast<std::size_t>(config.open_files),
                                     std::chrono::milliseconds(config.trust_version_ms));
}

}  // namespace imageflex
