// Owners for the handles libvips and GLib give out, so none is freed by hand and
// none leaks when a step throws.
#pragma once

#include <vips/vips8>

#include <memory>
#include <string_view>

namespace imageflex {

// A NULL-terminated string array (vips_image_get_fields), freed with g_strfreev.
struct StrvFree {
  void operator()(gchar** strings) const { g_strfreev(strings); }
};
using OwnedStrv = std::unique_ptr<gchar*, StrvFree>;

// A buffer libvips allocated (write_to_buffer), freed with g_free.
struct GFree {
  void operator()(void* memory) const { g_free(memory); }
};
using OwnedBuffer = std::unique_ptr<void, GFree>;

// Options for one libvips call. The call takes ownership (release() it into the
// call); until then, this frees them.
using OwnedOptions = std::unique_ptr<vips::VOption>;

// A VipsBlob that borrows bytes without copying them; they must outlive every image
// made from it.
class BorrowedBlob {
 public:
  explicit BorrowedBlob(std::string_view bytes) : blob_(vips_blob_new(nullptr, bytes.data(), bytes.size())) {}
  ~BorrowedBlob() { vips_area_unref(VIPS_AREA(blob_)); }
  BorrowedBlob(const BorrowedBlob&) = delete;
  BorrowedBlob& operator=(const BorrowedBlob&) = delete;
  VipsBlob* get() const { return blob_; }

 private:
  VipsBlob* blob_;
};

// A GLib signal handler connected for as long as this object lives.
class SignalConnection {
 public:
  SignalConnection(gpointer instance, const char* signal, GCallback callback, gpointer data)
      : instance_(instance), id_(g_signal_connect(instance, signal, callback, data)) {}
  ~SignalConnection() { g_signal_handler_disconnect(instance_, id_); }
  SignalConnection(const SignalConnection&) = delete;
  SignalConnection& operator=(const SignalConnection&) = delete;

 private:
  gpointer instance_;
  gulong id_;
};

}  // namespace imageflex
