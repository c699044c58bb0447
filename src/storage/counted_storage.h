// A Storage that counts the requests made through it (stat, get, put, remove), so the
// stats show what serving cost the store: a hit inside the trust window costs none.
#pragma once

#include <atomic>
#include <cstdint>

#include "storage/storage.h"

namespace imageflex {

// Thread-safe, as the store it wraps.
class CountedStorage final : public Storage {
 public:
  explicit CountedStorage(Storage& store) : store_(store) {}

  std::optional<ObjectInfo> stat(const std::string& key) override {
    ++requests_;
    return store_.stat(key);
  }
  GetResult get(const std::string& key, const GetOptions& options) override {
    ++requests_;
    return store_.get(key, options);
  }
  void put(const std::string& key, std::string_view bytes, const PutOptions& options) override {
    ++requests_;
    store_.put(key, bytes, options);
  }
  void remove(const std::string& key) override {
    ++requests_;
    store_.remove(key);
  }
  std::string describe() const override { return store_.describe(); }
  std::vector<std::pair<std::string, std::uint64_t>> stats() const override { return store_.stats(); }
  std::uint64_t bytes_read() const override { return store_.bytes_read(); }

  std::uint64_t requests() const { return requests_.load(); }

 private:
  Storage& store_;
  std::atomic<std::uint64_t> requests_{0};
};

}  // namespace imageflex
