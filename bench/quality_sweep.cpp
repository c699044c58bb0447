// quality_sweep: size, encode time and SSIM of each output format over a range of
// qualities, on real photographs resized to typical web widths. The numbers behind
// the per-format defaults in src/common/config.h (see BENCHMARKS.md).
//
//   quality_sweep [--widths 1200,400] [--repeats 3] [--slow-ms 2000] [--jpeg-q 50-95/5]
//                 [--webp-q 50-95/5] [--avif-q 30-80/5] [--avif-effort 2] IMAGE...
//
// Encode time is the median of --repeats runs, except that an encode slower than
// --slow-ms is timed once: at seconds per encode the ranking is plain without a median,
// and repeating it would triple the sweep's run time.
//
// A list is "none", "N", "A,B,C" or "FROM-TO/STEP". AVIF runs every quality with every
// effort. Writes CSV to stdout, one row per (image, width, format, q, effort):
//   image,width,height,format,q,effort,bytes,bpp,encode_ms,cpu_ms,ssim
//
//   quality_sweep --compare REFERENCE TEST   prints the SSIM of two same-sized images
//                                            (to check the metric against another tool)
//   quality_sweep --score < PAIRS            reads "ORIGINAL<TAB>OUTPUT" lines (any server's output of
//                                            ORIGINAL, any size) and prints the SSIM of each OUTPUT
//                                            against a reference downscale of ORIGINAL to its size
//                                            (bench/peers.py scores the peers' outputs this way)
#include <vips/vips8>

#include "image/colour.h"
#include "image/encode.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using vips::VImage;
using vips::VOption;

enum class Codec { kJpeg, kWebp, kAvif };

const char* codec_name(Codec codec) {
  switch (codec) {
    case Codec::kJpeg: return "jpeg";
    case Codec::kWebp: return "webp";
    case Codec::kAvif: return "avif";
  }
  return "?";
}

struct Case {
  Codec codec;
  int q;
  int effort;  // AVIF only; -1 elsewhere
};

// The service's encoder, called exactly as a request would call it (src/image/encode.h):
// the same options, and WebP's metadata chunks cut as in what is served.
imageflex::Format format_of(Codec codec) {
  switch (codec) {
    case Codec::kJpeg: return imageflex::Format::kJpeg;
    case Codec::kWebp: return imageflex::Format::kWebp;
    case Codec::kAvif: return imageflex::Format::kAvif;
  }
  return imageflex::Format::kJpeg;
}

imageflex::Quality defaults_for(const Case& c) {
  imageflex::Quality defaults;
  if (c.effort >= 0) defaults.avif_effort = c.effort;
  return defaults;
}

struct Options {
  std::vector<int> widths = {1200, 400};
  int repeats = 3;
  double slow_ms = 2000;
  std::vector<int> jpeg_q;
  std::vector<int> webp_q;
  std::vector<int> avif_q;
  std::vector<int> avif_effort = {2};
  std::vector<std::string> images;
};

int parse_int(const std::string& text) {
  std::size_t used = 0;
  int value = std::stoi(text, &used);
  if (used != text.size()) throw std::invalid_argument("not a number: '" + text + "'");
  return value;
}

// "none" | "N" | "A,B,C" | "FROM-TO/STEP"
std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  if (text.empty() || text == "none") return values;
  auto dash = text.find('-');
  if (dash != std::string::npos) {
    auto slash = text.find('/');
    int from = parse_int(text.substr(0, dash));
    int to =
        parse_int(text.substr(dash + 1, slash == std::string::npos ? std::string::npos : slash - dash - 1));
    int step = slash == std::string::npos ? 1 : parse_int(text.substr(slash + 1));
    if (step <= 0 || to < from) throw std::invalid_argument("bad range '" + text + "'");
    for (int v = from; v <= to; v += step) values.push_back(v);
    return values;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    values.push_back(
        parse_int(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

Options parse_options(int argc, char** argv) {
  Options options;
  options.jpeg_q = parse_list("50-95/5");
  options.webp_q = parse_list("50-95/5");
  options.avif_q = parse_list("30-80/5");
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--widths") {
      options.widths = parse_list(value());
    } else if (arg == "--repeats") {
      options.repeats = std::max(1, parse_int(value()));
    } else if (arg == "--slow-ms") {
      options.slow_ms = parse_int(value());
    } else if (arg == "--jpeg-q") {
      options.jpeg_q = parse_list(value());
    } else if (arg == "--webp-q") {
      options.webp_q = parse_list(value());
    } else if (arg == "--avif-q") {
      options.avif_q = parse_list(value());
    } else if (arg == "--avif-effort") {
      options.avif_effort = parse_list(value());
    } else if (arg.rfind("--", 0) == 0) {
      throw std::invalid_argument("unknown option " + arg);
    } else {
      options.images.push_back(arg);
    }
  }
  if (options.images.empty()) throw std::invalid_argument("no images given");
  return options;
}

// The picture as the pipeline (src/image/pipeline.cpp) hands it to the encoder: shrunk
// (never enlarged), through its ICC profile to sRGB when it has one, 8-bit, alpha
// flattened, metadata dropped, and rendered to memory so the timings that follow are
// of the encoder alone, not of decoding and resizing the original.
VImage reference(const std::string& path, int width) {
  VImage image = VImage::thumbnail(path.c_str(), width, VImage::option()->set("size", VIPS_SIZE_DOWN));
  image = imageflex::to_srgb8(image);
  if (image.has_alpha()) {
    image = image.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}));
  }
  return imageflex::without_metadata(image.copy_memory());
}

// Rec. 601 luma as float: the channel SSIM is classically computed on, and the one the
// eye is most sensitive to. (Chroma errors are therefore not scored; see BENCHMARKS.md.)
VImage luma(const VImage& srgb) {
  VImage rgb = srgb.bands() >= 3 ? srgb.extract_band(0, VImage::option()->set("n", 3)) : srgb;
  if (rgb.bands() == 1) return rgb.cast(VIPS_FORMAT_FLOAT);
  return rgb.recomb(VImage::new_matrixv(3, 1, 0.299, 0.587, 0.114));
}

// Mean SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) with the standard parameters: a
// Gaussian window of sigma 1.5 truncated to 11x11, K1 = 0.01, K2 = 0.03, L = 255. Local
// statistics come from Gaussian blurs: E[x], E[x^2], E[xy]. The map is averaged away
// from the 5-pixel border, where the window would reach past the picture.
double ssim(const VImage& reference_luma, const VImage& test_luma) {
  constexpr double kC1 = (0.01 * 255) * (0.01 * 255);
  constexpr double kC2 = (0.03 * 255) * (0.03 * 255);
  constexpr int kRadius = 5;
  // libvips' default min_ampl (0.2) would cut the kernel to 5x5; 0.0038 keeps it out to
  // radius 5 (exp(-25/4.5) ≈ 0.00387), the 11x11 window of the reference implementation.
  // Float precision: no integer approximation of the kernel.
  auto blur = [](const VImage& image) {
    return image.gaussblur(1.5,
                           VImage::option()->set("min_ampl", 0.0038)->set("precision", VIPS_PRECISION_FLOAT));
  };
  const VImage& x = reference_luma;
  const VImage& y = test_luma;
  VImage mu_x = blur(x);
  VImage mu_y = blur(y);
  VImage mu_xx = mu_x * mu_x;
  VImage mu_yy = mu_y * mu_y;
  VImage mu_xy = mu_x * mu_y;
  VImage sigma_xx = blur(x * x) - mu_xx;
  VImage sigma_yy = blur(y * y) - mu_yy;
  VImage sigma_xy = blur(x * y) - mu_xy;
  VImage map =
      ((2 * mu_xy + kC1) * (2 * sigma_xy + kC2)) / ((mu_xx + mu_yy + kC1) * (sigma_xx + sigma_yy + kC2));
  if (map.width() > 4 * kRadius && map.height() > 4 * kRadius) {
    map = map.extract_area(kRadius, kRadius, map.width() - 2 * kRadius, map.height() - 2 * kRadius);
  }
  return map.avg();
}

// The reference an output of a server is scored against: the original decoded in full (no
// shrink-on-load, which is what the servers do and should not be the yardstick), to sRGB,
// and shrunk to the output's exact size with Lanczos 3, which none of the servers' fast
// paths use alone.
VImage reference_downscale(const VImage& original, int width, int height) {
  VImage image = imageflex::to_srgb8(original.autorot());
  if (image.has_alpha()) {
    image = image.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}));
  }
  const double hscale = static_cast<double>(width) / image.width();
  const double vscale = static_cast<double>(height) / image.height();
  return image.resize(hscale, VImage::option()->set("vscale", vscale)->set("kernel", VIPS_KERNEL_LANCZOS3))
      .copy_memory();
}

// An output as a browser shows it: decoded to 8-bit sRGB, alpha flattened on white.
VImage decoded_srgb(const std::string& path) {
  VImage image = VImage::new_from_file(path.c_str());
  image = imageflex::to_srgb8(image);
  if (image.has_alpha()) {
    image = image.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}));
  }
  return image.copy_memory();
}

// --score: one "ORIGINAL<TAB>OUTPUT" per line; prints "SSIM" per line ("nan" when unreadable).
// The decoded original is kept while consecutive lines name it, so sorted input decodes each once.
int score_pairs() {
  std::string line;
  std::string loaded;
  VImage original;
  while (std::getline(std::cin, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    try {
      const std::string original_path = line.substr(0, tab);
      if (original_path != loaded) {
        original =
            VImage::new_from_file(original_path.c_str(), VImage::option()->set("access", VIPS_ACCESS_RANDOM))
                .copy_memory();
        loaded = original_path;
      }
      VImage output = decoded_srgb(line.substr(tab + 1));
      VImage reference = reference_downscale(original, output.width(), output.height());
      std::printf("%.6f\n", ssim(luma(reference), luma(output)));
    } catch (const vips::VError& error) {
      std::cerr << "quality_sweep: " << line << ": " << error.what() << "\n";
      std::printf("nan\n");
    }
    std::fflush(stdout);
  }
  return 0;
}

struct Measurement {
  std::size_t bytes = 0;
  double encode_ms = 0;  // wall clock, median
  double cpu_ms = 0;     // CPU time of the whole process, median: all encoder threads
  double ssim = 0;
};

// Process CPU time: unlike wall time it barely moves when other work shares the cores,
// and above wall time it shows how many threads the encoder kept busy.
double cpu_now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double median(std::vector<double> values) {
  const auto middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(middle), values.end());
  return values[middle];
}

Measurement measure(const VImage& image, const VImage& image_luma, const Case& c, int repeats,
                    double slow_ms) {
  std::vector<double> times;
  std::vector<double> cpu_times;
  std::string encoded;
  for (int i = 0; i < repeats; ++i) {
    const double cpu_started = cpu_now_ms();
    const auto started = std::chrono::steady_clock::now();
    encoded = imageflex::encode(image, format_of(c.codec), c.q, defaults_for(c));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    cpu_times.push_back(cpu_now_ms() - cpu_started);
    times.push_back(std::chrono::duration<double, std::milli>(elapsed).count());
    if (times.back() > slow_ms) break;
  }

  // Decode what a browser would get; `encoded` outlives the image, which borrows it.
  VImage decoded = VImage::new_from_buffer(encoded.data(), encoded.size(), "");
  if (decoded.interpretation() != VIPS_INTERPRETATION_sRGB && decoded.bands() >= 3) {
    decoded = decoded.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  decoded = decoded.copy_memory();
  if (decoded.width() != image.width() || decoded.height() != image.height()) {
    throw std::runtime_error("decoded size differs from the reference");
  }
  return {encoded.size(), median(times), median(cpu_times), ssim(image_luma, luma(decoded))};
}

}  // namespace

int main(int argc, char** argv) {
  if (VIPS_INIT(argv[0])) {
    std::cerr << "quality_sweep: cannot start libvips\n";
    return 1;
  }
  // As the service runs libvips (src/image/vips_runtime.cpp): no operation cache, which
  // would only blur timings, and one thread per pipeline, since its workers run
  // transforms side by side.
  vips_cache_set_max(0);
  vips_concurrency_set(1);
  // HEIF decoding warns about every nclx colour profile it ignores; AVIF is always sRGB here.
  g_log_set_handler(
      "VIPS", G_LOG_LEVEL_WARNING, [](const char*, GLogLevelFlags, const char*, void*) {}, nullptr);
  try {
    if (argc == 4 && std::string(argv[1]) == "--compare") {
      VImage a = VImage::new_from_file(argv[2]).copy_memory();
      VImage b = VImage::new_from_file(argv[3]).copy_memory();
      std::printf("%.6f\n", ssim(luma(a), luma(b)));
      return 0;
    }
    if (argc == 2 && std::string(argv[1]) == "--score") return score_pairs();
    const Options options = parse_options(argc, argv);
    std::vector<Case> cases;
    for (int q : options.jpeg_q) cases.push_back({Codec::kJpeg, q, -1});
    for (int q : options.webp_q) cases.push_back({Codec::kWebp, q, -1});
    for (int effort : options.avif_effort) {
      for (int q : options.avif_q) cases.push_back({Codec::kAvif, q, effort});
    }

    std::cout << "image,width,height,format,q,effort,bytes,bpp,encode_ms,cpu_ms,ssim\n";
    for (const auto& path : options.images) {
      const std::string name = std::filesystem::path(path).stem().string();
      for (int width : options.widths) {
        VImage image = reference(path, width);
        if (image.width() != width) {
          std::cerr << "quality_sweep: " << name << " is narrower than " << width
                    << " px; skipped at that width\n";
          continue;
        }
        VImage image_luma = luma(image).copy_memory();
        for (const auto& c : cases) {
          Measurement m = measure(image, image_luma, c, options.repeats, options.slow_ms);
          const double bpp =
              8.0 * static_cast<double>(m.bytes) / (static_cast<double>(image.width()) * image.height());
          std::printf("%s,%d,%d,%s,%d,%d,%zu,%.4f,%.2f,%.2f,%.5f\n", name.c_str(), image.width(),
                      image.height(), codec_name(c.codec), c.q, c.effort, m.bytes, bpp, m.encode_ms, m.cpu_ms,
                      m.ssim);
          std::fflush(stdout);
        }
      }
    }
  } catch (const vips::VError& error) {
    std::cerr << "quality_sweep: libvips: " << error.what() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "quality_sweep: " << error.what() << "\n";
    return 2;
  }
  vips_shutdown();
  return 0;
}
