#include "storage/s3_storage.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/http_date.h"
#include "common/text.h"
#include "storage/open_file.h"

namespace imageflex {
namespace {

constexpr std::string_view kMetaPrefix = "x-amz-meta-";
// Smaller objects are read into memory even when open_above allows a stream: one piece of
// a streamed response (64 KiB) costs as much memory, and they need no file or descriptor.
constexpr std::uint64_t kSmallestSpooled = std::uint64_t{64} << 10;

std::uint64_t file_size(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : UINT64_MAX;
}

std::uint64_t parse_size(std::string_view text) {
  text = trim(text);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() ? value : 0;
}

std::string trim_slashes(std::string_view text) {
  while (!text.empty() && text.front() == '/') text.remove_prefix(1);
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  return std::string(text);
}

ObjectInfo info_from_headers(const std::map<std::string, std::string>& headers) {
  ObjectInfo info;
  for (const auto& [name, value] : headers) {
    if (name == "etag") {
      info.etag = unquote_etag(value);
    } else if (name == "content-length") {
      if (headers.count("content-range") == 0) info.size = parse_size(value);
    } else if (name == "content-range") {
      // "bytes 0-65535/3100000": a range read still reports the whole object's size.
      const auto slash = value.rfind('/');
      if (slash != std::string::npos) info.size = parse_size(std::string_view(value).substr(slash + 1));
    } else if (name == "last-modified") {
      info.last_modified = parse_http_date(value).value_or(0);
    } else if (name == "content-type") {
      info.content_type = value;
    } else if (name.size() > kMetaPrefix.size() && name.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0) {
      info.metadata[name.substr(kMetaPrefix.size())] = value;
    }
  }
  return info;
}

// Header names and values go into raw header lines: refuse anything that could split
// a line or that S3 would not keep (user metadata is ASCII).
bool valid_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '_';
  });
}

bool valid_header_value(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
}

// "store refused write (403 AccessDenied)"
// The text of each <TAG>…</TAG> in an S3 XML answer, entities decoded (keys may hold & < >).
std::vector<std::string> xml_elements(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  std::vector<std::string> found;
  for (std::size_t at = xml.find(open); at != std::string_view::npos; at = xml.find(open, at)) {
    const std::size_t start = at + open.size();
    const std::size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    std::string text;
    for (std::size_t i = start; i < end; ++i) {
      if (xml[i] != '&') {
        text += xml[i];
        continue;
      }
      static const std::pair<std::string_view, char> entities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool decoded = false;
      for (const auto& [entity, c] : entities) {
        if (xml.substr(i, entity.size()) == entity) {
          text += c;
          i += entity.size() - 1;
          decoded = true;
          break;
        }
      }
      if (!decoded) text += '&';
    }
    found.push_back(std::move(text));
    at = end + close.size();
  }
  return found;
}

Error refused(const std::string& what, std::string_view body) {
  const std::string code = s3_error_code(body);
  return store_unavailable("store refused " + what + " (403" + (code.empty() ? "" : " " + code) + ")");
}

}  // namespace

S3Storage::S3Storage(const S3Config& config, std::shared_ptr<AwsCredentialsProvider> credentials)
    : client_(config, std::move(credentials)),
      bucket_(config.bucket),
      prefix_(trim_slashes(config.prefix)),
      region_(config.region) {}

std::string S3Storage::describe() const {
  return "s3://" + bucket_ + (prefix_.empty() ? "" : "/" + prefix_);
}

std::string S3Storage::object_path(const std::string& key) const {
  if (key.empty()) {
    // An empty key would address the bucket itself (a GET would list it).
    throw Error(ErrorKind::kInternal, "S3 storage: empty key");
  }
  return prefix_.empty() ? key : prefix_ + "/" + key;
}

std::optional<ObjectInfo> S3Storage::stat(const std::string& key) {
  const S3Response response = client_.send(S3Request("HEAD", object_path(key)));
  if (response.status >= 200 && response.status < 300) return info_from_headers(response.headers);
  // 403 is what S3 answers for a missing key when the reader may not list the bucket.
  if (response.status == 404 || response.status == 403) return std::nullopt;
  throw store_unavailable("stat: " + s3_failure_reason(response.status, response.body));
}

GetResult S3Storage::get(const std::string& key, const GetOptions& options) {
  S3Request request{"GET", object_path(key)};
  if (!options.if_match.empty()) {
    request.headers.emplace_back("If-Match", quote_etag(options.if_match));
  }
  if (!options.if_none_match.empty()) {
    request.headers.emplace_back("If-None-Match", quote_etag(options.if_none_match));
  }
  request.max_body = options.max_bytes;
  std::optional<LiveSpools::Spool> live;
  if (options.first_bytes == 0 && options.open_above != UINT64_MAX) {
    // Streamed from a local file: the handler thread downloads at the store's pace and the
    // client reads at its own, holding no copy in memory and no connection to the store.
    request.spool_above = std::max(options.open_above, kSmallestSpooled);
    // A version of it still being sent from a spool is shared if S3 says it is still the
    // object's (304). A caller's own If-None-Match keeps its meaning: no sharing then.
    if (options.if_none_match.empty()) live = spools_.find(key);
    if (live && live->info.size > request.spool_above) {
      request.headers.emplace_back("If-None-Match", quote_etag(live->info.etag));
    } else {
      live.reset();
    }
  }
  if (options.first_bytes > 0) {
    // A header read: only the first bytes travel (206 Partial Content).
    request.headers.emplace_back("Range", "bytes=0-" + std::to_string(options.first_bytes - 1));
  }
  S3Response response = client_.send(request);
  if (response.status == 416) {
    // Only an empty object has no byte 0: read it whole, which costs nothing.
    GetOptions whole = options;
    whole.first_bytes = 0;
    return get(key, whole);
  }

  GetResult result;
  if (response.too_large) {
    result.status = GetStatus::kTooLarge;
    result.object.info = info_from_headers(response.headers);
    // Without a Content-Length the true size is unknown; report the bytes seen before
    // the abort, which are already past the limit.
    if (response.headers.count("content-length") == 0) {
      result.object.info.size = response.body_seen;
    }
    return result;
  }

  const std::string code = response.status >= 400 ? s3_error_code(response.body) : std::string();
  switch (response.status) {
    case 200:
    case 206:
      result.object.info = info_from_headers(response.headers);
      if (response.status == 200) {
        result.object.info.size = response.spooled.valid() ? response.body_seen : response.body.size();
      }
      // A range read's body is small: the whole object's size is judged by its Content-Range.
      if (result.object.info.size > options.max_bytes) {
        result.status = GetStatus::kTooLarge;
        return result;
      }
      result.status = GetStatus::kOk;
      if (response.spooled.valid()) {
        // The ETag and the bytes came in one response (and If-Match, if any, was S3's to
        // check), so the file is the version named. curl fails a body shorter than its
        // Content-Length (and the client retries); this is the last check of both.
        const auto declared = response.headers.find("content-length");
        if ((declared != response.headers.end() && parse_size(declared->second) != response.body_seen) ||
            file_size(response.spooled.get()) != response.body_seen) {
          throw store_unavailable("get: the body received is not the object's size");
        }
        bytes_read_ += response.body_seen;
        result.object.opened =
            std::make_shared<const OpenFile>(std::move(response.spooled), response.body_seen);
        spools_.remember(key, {result.object.info, result.object.opened});
        return result;
      }
      if (options.first_bytes > 0 && response.body.size() > options.first_bytes) {
        response.body.resize(options.first_bytes);  // a store that ignored the Range
      }
      bytes_read_ += response.body.size();
      result.object.bytes = std::move(response.body);
      return result;
    case 304:
      if (live) {
        // The object is still the version spooled (and If-Match, if any, held).
        result.object.info = live->info;
        result.status = live->info.size > options.max_bytes ? GetStatus::kTooLarge : GetStatus::kOk;
        if (result.status == GetStatus::kOk) result.object.opened = std::move(live->object);
        return result;
      }
      result.status = GetStatus::kNotModified;
      result.object.info = info_from_headers(response.headers);
      if (result.object.info.etag.empty()) result.object.info.etag = options.if_none_match;
      return result;
    case 412: result.status = GetStatus::kPreconditionFailed; return result;
    case 404:
      if (code == "NoSuchBucket") throw store_unavailable("bucket does not exist (404 NoSuchBucket)");
      result.status = GetStatus::kNotFound;
      return result;
    case 403:
      // AccessDenied is how S3 hides a missing key from a reader without list rights;
      // a bad signature, unknown key id or skewed clock is a fault of ours.
      if (code.empty() || code == "AccessDenied") {
        result.status = GetStatus::kNotFound;
        return result;
      }
      throw store_unavailable("store refused read (403 " + code + ")");
    default: throw store_unavailable("get: " + s3_failure_reason(response.status, response.body));
  }
}

void S3Storage::put(const std::string& key, std::string_view bytes, const PutOptions& options) {
  S3Request request{"PUT", object_path(key)};
  const auto add = [&](std::string name, const std::string& value) {
    if (!valid_header_value(value)) {
      throw Error(ErrorKind::kInternal, "S3 put: header value not printable ASCII: " + name);
    }
    request.headers.emplace_back(std::move(name), value);
  };
  if (!options.content_type.empty()) add("Content-Type", options.content_type);
  if (!options.cache_control.empty()) add("Cache-Control", options.cache_control);
  for (const auto& [name, value] : options.metadata) {
    if (!valid_header_name(name)) {
      throw Error(ErrorKind::kInternal, "S3 put: invalid metadata name: " + name);
    }
    add(std::string(kMetaPrefix) + name, value);
  }
  request.body = bytes;  // signed with its SHA-256, so S3 rejects a corrupted upload
  const S3Response response = client_.send(request);
  if (response.status >= 200 && response.status < 300) return;
  if (response.status == 403) throw refused("write", response.body);
  throw store_unavailable("store rejected write (" + s3_failure_reason(response.status, response.body) + ")");
}

void S3Storage::remove(const std::string& key) {
  const S3Response response = client_.send(S3Request("DELETE", object_path(key)));
  if ((response.status >= 200 && response.status < 300) || response.status == 404) return;
  if (response.status == 403) throw refused("delete", response.body);
  throw store_unavailable("remove: " + s3_failure_reason(response.status, response.body));
}

ListPage S3Storage::list(const std::string& prefix, const std::string& start_after, std::size_t max_keys) {
  const std::string base = prefix_.empty() ? "" : prefix_ + "/";
  S3Request request{"GET", ""};
  request.query = {
      {"list-type", "2"},
      {"prefix", base + prefix},
      {"max-keys", std::to_string(std::max<std::size_t>(1, std::min<std::size_t>(max_keys, 1000)))}};
  if (!start_after.empty()) request.query.emplace_back("start-after", base + start_after);
  const S3Response response = client_.send(request);
  if (response.status == 403) throw refused("list (s3:ListBucket)", response.body);
  if (response.status < 200 || response.status >= 300) {
    throw store_unavailable("list: " + s3_failure_reason(response.status, response.body));
  }
  ListPage page;
  std::string last;
  for (auto& key : xml_elements(response.body, "Key")) {
    if (key.rfind(base, 0) != 0) continue;
    last = key.substr(base.size());
    if (last.rfind("_imageflex/", 0) != 0) page.keys.push_back(last);
  }
  const auto truncated = xml_elements(response.body, "IsTruncated");
  if (!truncated.empty() && truncated.front() == "true" && !last.empty()) page.next = last;
  return page;
}

void S3Storage::create_bucket() {
  S3Request request{"PUT", ""};
  // us-east-1 is S3's default and rejects an explicit location constraint.
  std::string body;
  if (region_ != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        region_ + "</LocationConstraint></CreateBucketConfiguration>";
  }
  request.body = body;
  const S3Response response = client_.send(request);
  if (response.status >= 200 && response.status < 300) return;
  const std::string code = s3_error_code(response.body);
  if (response.status == 409 &&
      (code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" || code.empty())) {
    return;
  }
  throw store_unavailable("create bucket: " + s3_failure_reason(response.status, response.body));
}

}  // namespace imageflex
