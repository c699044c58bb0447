#pragma once

#include <memory>

#include "common/config.h"
#include "storage/storage.h"

namespace imageflex {

// The backend the configuration names: S3 for "s3://...", else the root folder.
// Throws std::invalid_argument naming the setting that is wrong.
std::unique_ptr<Storage> open_storage(const Config& config);

}  // namespace imageflex
