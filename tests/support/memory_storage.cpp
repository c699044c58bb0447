#include "memory_storage.h"

#include <ctime>
#include <thread>

#include "common/error.h"

namespace imageflex::test {
namespace {

// Set while a hook runs on this thread: the hook's own store calls skip the hooks.
thread_local bool in_hook = false;

struct InHook {
  InHook() { in_hook = true; }
  ~InHook() { in_hook = false; }
  InHook(const InHook&) = delete;
  InHook& operator=(const InHook&) = delete;
};

}  // namespace

void MemoryStorage::before(StoreOp op, const std::string& key) {
  if (in_hook) return;
  Hook hook;
  {
    std::lock_guard lock(mutex_);
    calls_[{op, key}]++;
    hook = hook_;
  }
  if (hook) {
    InHook scope;
    hook(op, key);
  }
  std::lock_guard lock(mutex_);
  if (auto due = failures_.find(op); due != failures_.end() && due->second > 0) {
    due->second--;
    throw Error(ErrorKind::kStoreUnavailable, "storage error: injected failure");
  }
}

std::optional<ObjectInfo> MemoryStorage::stat(const std::string& key) {
  before(StoreOp::kStat, key);
  std::lock_guard lock(mutex_);
  auto found = objects_.find(key);
  if (found == objects_.end()) return std::nullopt;
  return found->second.info;
}

GetResult MemoryStorage::get(const std::string& key, const GetOptions& options) {
  before(StoreOp::kGet, key);
  std::lock_guard lock(mutex_);
  GetResult result;
  auto found = objects_.find(key);
  if (found == objects_.end()) return result;
  const StoredObject& stored = found->second;
  result.object.info = stored.info;
  // The same order of checks as the real backends: If-Match, If-None-Match, then size.
  if (!options.if_match.empty() && options.if_match != stored.info.etag) {
    result.status = GetStatus::kPreconditionFailed;
  } else if (!options.if_none_match.empty() && options.if_none_match == stored.info.etag) {
    result.status = GetStatus::kNotModified;
  } else if (stored.info.size > options.max_bytes) {
    result.status = GetStatus::kTooLarge;
  } else {
    result.status = GetStatus::kOk;
    result.object.bytes =
        options.first_bytes > 0 ? stored.bytes.substr(0, options.first_bytes) : stored.bytes;
    bytes_read_ += result.object.bytes.size();
  }
  return result;
}

void MemoryStorage::put(const std::string& key, std::string_view bytes, const PutOptions& options) {
  before(StoreOp::kPut, key);
  // Built whole outside the lock and swapped in under it: readers see the old object or the new one.
  StoredObject stored;
  stored.bytes = std::string(bytes);
  stored.cache_control = options.cache_control;
  stored.info.size = bytes.size();
  stored.info.last_modified = std::time(nullptr);
  stored.info.content_type = options.content_type;
  stored.info.metadata = options.metadata;
  std::lock_guard lock(mutex_);
  // Every put is a new version, even of the same bytes, as a rewritten file or S3 object is.
  stored.info.etag = "mem-" + std::to_string(next_version_++);
  objects_[key] = std::move(stored);
}

void MemoryStorage::remove(const std::string& key) {
  before(StoreOp::kRemove, key);
  std::lock_guard lock(mutex_);
  objects_.erase(key);
}

void MemoryStorage::set_hook(Hook hook) {
  std::lock_guard lock(mutex_);
  hook_ = std::move(hook);
}

void MemoryStorage::fail_next(StoreOp op, int times) {
  std::lock_guard lock(mutex_);
  failures_[op] = times;
}

int MemoryStorage::calls(StoreOp op) const {
  std::lock_guard lock(mutex_);
  int total = 0;
  for (const auto& [call, count] : calls_) {
    if (call.first == op) total += count;
  }
  return total;
}

int MemoryStorage::calls(StoreOp op, const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = calls_.find({op, key});
  return found == calls_.end() ? 0 : found->second;
}

std::uint64_t MemoryStorage::bytes_read() const {
  std::lock_guard lock(mutex_);
  return bytes_read_;
}

std::vector<std::string> MemoryStorage::keys() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  for (const auto& [key, stored] : objects_) keys.push_back(key);
  return keys;
}

std::optional<StoredObject> MemoryStorage::peek(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto found = objects_.find(key);
  if (found == objects_.end()) return std::nullopt;
  return found->second;
}

void Gate::pass() {
  std::unique_lock lock(mutex_);
  arrivals_++;
  changed_.notify_all();
  changed_.wait_for(lock, kMaxWait, [this] { return open_; });
}

void Gate::open() {
  std::lock_guard lock(mutex_);
  open_ = true;
  changed_.notify_all();
}

int Gate::arrivals() const {
  std::lock_guard lock(mutex_);
  return arrivals_;
}

bool Gate::wait_for_arrivals(int count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return arrivals_ >= count; });
}

ListPage MemoryStorage::list(const std::string& prefix, const std::string& start_after,
                             std::size_t max_keys) {
  ListPage page;
  std::lock_guard lock(mutex_);
  for (auto it = objects_.upper_bound(start_after); it != objects_.end(); ++it) {
    if (it->first.rfind(prefix, 0) != 0 || it->first.rfind("_imageflex/", 0) == 0) continue;
    if (page.keys.size() == max_keys) {
      page.next = page.keys.back();
      break;
    }
    page.keys.push_back(it->first);
  }
  return page;
}

}  // namespace imageflex::test
