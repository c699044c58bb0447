// What every libcurl user here needs: one global initialisation, and owners for the
// handles curl hands out.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace imageflex {

// curl_global_init, once per process, before the first handle.
void init_curl();

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

// Owns a curl_slist of request headers for the duration of a transfer.
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list_); }

  void add(const std::string& name, const std::string& value) {
    // "Name;" is curl's way to send a header with an empty value.
    append(value.empty() ? name + ";" : name + ": " + value);
  }
  // "Name:" tells curl not to send a header it would otherwise add itself.
  void suppress(const std::string& name) { append(name + ":"); }
  curl_slist* get() const { return list_; }

 private:
  void append(const std::string& line);

  curl_slist* list_ = nullptr;
};

}  // namespace imageflex
