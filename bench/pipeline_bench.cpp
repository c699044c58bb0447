// The miss pipeline called in-process (make_variant, as the service's workers call it), on
// real photos: fit inside 512x512 from 2560x1600 JPEGs to JPEG q80, WebP q75 and AVIF q65,
// one libvips thread per job (init_vips), at one and at two jobs in parallel. The floor
// the service's misses are held to (issue 9: server overhead within 5% of this).
//
//   pipeline_bench [google-benchmark flags]       IF_BENCH_CORPUS=DIR (default bench/out/corpus/2560x1600)
//   pipeline_bench --cpu-of=N --format=jpeg [--first=K]
//                                                 runs misses K..K+N-1 as bench/miss_cpu.sh sends them to
//                                                 the server; prints "cpu_seconds S user U sys Y images N
//                                                 caller C" (getrusage; S = U + Y; C is the calling
//                                                 thread's, the rest libvips' workers')
//   pipeline_bench --cpu-of=N --store=DIR ...     the same, each miss also making the storage calls the
//                                                 service makes around it on a folder store at DIR (which
//                                                 holds the corpus): the original's stat, the variant's
//                                                 look-up, the original's read and the variant's write;
//                                                 --store-calls-only makes those calls alone
//
// "CPU" in the benchmark's table is the whole process's user+sys time per image
// (MeasureProcessCPUTime): libvips' worker thread counts, not only the caller's.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/allocator.h"
#include "image/vips_runtime.h"
#include "storage/fs_storage.h"
#include "variant/make_variant.h"

namespace imageflex {
namespace {

// The corpus (bench/corpus.sh): its JPEGs in the order bench/miss_cpu.sh sends them.
const std::vector<std::filesystem::path>& photo_paths() {
  static const std::vector<std::filesystem::path> sorted = [] {
    const char* dir = std::getenv("IF_BENCH_CORPUS");
    const std::filesystem::path folder = dir ? dir : "bench/out/corpus/2560x1600";
    std::vector<std::filesystem::path> names;
    if (std::filesystem::is_directory(folder)) {
      for (const auto& entry : std::filesystem::directory_iterator(folder))
        if (entry.path().extension() == ".jpg") names.push_back(entry.path());
    }
    if (names.empty()) {
      std::cerr << "pipeline_bench: no JPEGs in " << folder << " (run bash bench/corpus.sh)\n";
      std::exit(2);
    }
    std::sort(names.begin(), names.end());
    return names;
  }();
  return sorted;
}

// Their names, as keys of a folder store that holds them (--store).
const std::vector<std::string>& photo_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const auto& path : photo_paths()) all.push_back(path.filename().string());
    return all;
  }();
  return names;
}

// Their bytes, read once: the same bytes the server reads from its root.
const std::vector<std::string>& photos() {
  static const std::vector<std::string> loaded = [] {
    std::vector<std::string> bytes;
    for (const auto& name : photo_paths()) {
      std::ifstream in(name, std::ios::binary);
      std::ostringstream all;
      all << in.rdbuf();
      bytes.push_back(all.str());
    }
    return bytes;
  }();
  return loaded;
}

// Miss number `i`: photo i mod count, fit inside 512 - (i / count) mod 256 wide by 512 high, so every
// request is a new variant (bench/miss_cpu.sh asks the server for the same ones).
ImageRequest miss_request(std::size_t i, Format format, int quality) {
  ImageRequest request;
  request.geometry = {512 - static_cast<int>((i / photos().size()) % 256), 512, Fit::kInside, false};
  request.format = format;
  request.quality = quality;
  return request;
}

// Miss `i` made from ORIGINAL, as the service's worker makes it.
Encoded transform_miss(std::string_view original, std::size_t i, Format format, int quality) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  Encoded encoded =
      make_variant(original, miss_request(i, format, quality), {}, Limits{}, Quality{}, deadline);
  end_vips_job();  // as the service's worker does after every job
  return encoded;
}

Encoded make_miss(std::size_t i, Format format, int quality) {
  return transform_miss(photos()[i % photos().size()], i, format, quality);
}

// Miss `i` with the storage calls the service makes around it (Handler::handle_variant and
// produce_variant), on a folder store holding the corpus under the photos' names. Without
// `transform`, the storage calls alone, writing 10 KB (about a JPEG miss's output) as the variant.
void stored_miss(Storage& store, std::size_t i, Format format, int quality, bool transform) {
  const std::string& name = photo_names()[i % photo_names().size()];
  const auto original = store.stat(name);
  if (!original) {
    std::cerr << "pipeline_bench: " << name << " is not in the store\n";
    std::exit(2);
  }
  const std::string key = "_imageflex/bench/" + name + "/" + original->etag +
                          "/w=" + std::to_string(miss_request(i, format, quality).geometry.width) +
                          ",q=" + std::to_string(quality);
  if (store.get(key, {}).status == GetStatus::kOk) {
    std::cerr << "pipeline_bench: " << key << " is already made\n";
    std::exit(2);
  }
  GetOptions read;
  read.if_match = original->etag;
  GetResult got = store.get(name, read);
  Encoded encoded;
  if (transform) {
    encoded = transform_miss(got.object.bytes, i, format, quality);
  } else {
    encoded.bytes = got.object.bytes.substr(0, 10 * 1024);
  }
  PutOptions put;
  put.content_type = std::string(mime_type(format));
  put.cache_control = "public, max-age=86400";
  put.metadata["source-etag"] = original->etag;
  store.put(key, encoded.bytes, put);
}

void bm_miss(benchmark::State& state, Format format, int quality) {
  std::size_t i = static_cast<std::size_t>(state.thread_index());
  std::size_t bytes = 0;
  for (auto _ : state) {
    Encoded encoded = make_miss(i, format, quality);
    bytes += encoded.bytes.size();
    benchmark::DoNotOptimize(encoded.bytes.data());
    i += static_cast<std::size_t>(state.threads());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["out_bytes"] =
      benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kAvgIterations);
}

void register_all() {
  struct Case {
    const char* name;
    Format format;
    int quality;
  };
  for (const Case& c : {Case{"jpeg_q80", Format::kJpeg, 80}, Case{"webp_q75", Format::kWebp, 75},
                        Case{"avif_q65", Format::kAvif, 65}}) {
    for (int threads : {1, 2}) {
      benchmark::RegisterBenchmark((std::string("miss_fit512/") + c.name).c_str(), bm_miss, c.format,
                                   c.quality)
          ->Threads(threads)
          ->MeasureProcessCPUTime()
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

struct CpuSeconds {
  double user = 0;
  double sys = 0;
};

// The whole process's CPU so far (RUSAGE_SELF), or the calling thread's (RUSAGE_THREAD).
CpuSeconds cpu_seconds(int who = RUSAGE_SELF) {
  rusage usage{};
  getrusage(who, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

// The CPU misses first..first+count-1 take in-process, for bench/miss_cpu.sh's comparison.
int cpu_of(std::size_t first, std::size_t count, std::string_view format_text, const std::string& store_root,
           bool transform) {
  const auto format = parse_output_format(format_text);
  if (!format) {
    std::cerr << "pipeline_bench: unknown format " << format_text << "\n";
    return 2;
  }
  const int quality = *format == Format::kJpeg ? 80 : *format == Format::kWebp ? 75 : 65;
  make_miss(0, *format, quality);  // warm: libvips' first-use set-up is no miss's cost
  std::optional<FsStorage> store;
  if (!store_root.empty()) store.emplace(store_root);
  const CpuSeconds before = cpu_seconds();
  const CpuSeconds caller_before = cpu_seconds(RUSAGE_THREAD);
  for (std::size_t i = first; i < first + count; ++i) {
    if (store) {
      stored_miss(*store, i, *format, quality, transform);
    } else {
      make_miss(i, *format, quality);
    }
  }
  const CpuSeconds caller_after = cpu_seconds(RUSAGE_THREAD);
  const CpuSeconds after = cpu_seconds();
  const double user = after.user - before.user;
  const double sys = after.sys - before.sys;
  // The calling thread's share: the rest is libvips' worker threads.
  const double caller = caller_after.user - caller_before.user + caller_after.sys - caller_before.sys;
  std::printf("cpu_seconds %.3f user %.3f sys %.3f images %zu caller %.3f\n", user + sys, user, sys, count,
              caller);
  return 0;
}

}  // namespace
}  // namespace imageflex

int main(int argc, char** argv) {
  imageflex::init_vips(argv[0]);
  // The allocator and its settings as the server has them (and links them in: malloc_conf).
  std::cerr << "allocator: " << imageflex::describe_allocator() << "\n";
  std::size_t cpu_of = 0;
  std::size_t first = 0;
  std::string store_root;
  bool transform = true;
  std::string format = "jpeg";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.starts_with("--cpu-of=")) cpu_of = std::stoul(std::string(arg.substr(9)));
    if (arg.starts_with("--format=")) format = arg.substr(9);
    if (arg.starts_with("--first=")) first = std::stoul(std::string(arg.substr(8)));
    if (arg.starts_with("--store=")) store_root = arg.substr(8);
    if (arg == "--store-calls-only") transform = false;
  }
  imageflex::photos();  // read before any timing
  if (cpu_of > 0) return imageflex::cpu_of(first, cpu_of, format, store_root, transform);
  imageflex::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
