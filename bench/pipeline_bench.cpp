// The miss pipeline called in-process (make_variant, as the service's workers call it), on
// real photos: fit inside 512x512 from 2560x1600 JPEGs to JPEG q80, WebP q75 and AVIF q65,
// one libvips thread per job (init_vips), at one and at two jobs in parallel. The floor
// the service's misses are held to (issue 9: server overhead within 5% of this).
//
//   pipeline_bench [google-benchmark flags]       IF_BENCH_CORPUS=DIR (default bench/out/corpus/2560x1600)
//   pipeline_bench --cpu-of=N --format=jpeg       runs the N misses bench/miss_cpu.sh sends the server,
//                                                 prints "cpu_seconds S images N" (user+sys, getrusage)
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
#include <sstream>
#include <string>
#include <vector>

#include "common/allocator.h"
#include "image/vips_runtime.h"
#include "variant/make_variant.h"

namespace imageflex {
namespace {

// The corpus (bench/corpus.sh), read once: the same bytes the server reads from its root.
const std::vector<std::string>& photos() {
  static const std::vector<std::string> loaded = [] {
    const char* dir = std::getenv("IF_BENCH_CORPUS");
    const std::filesystem::path folder = dir ? dir : "bench/out/corpus/2560x1600";
    std::vector<std::filesystem::path> names;
    if (std::filesystem::is_directory(folder)) {
      for (const auto& entry : std::filesystem::directory_iterator(folder))
        if (entry.path().extension() == ".jpg") names.push_back(entry.path());
    }
    std::sort(names.begin(), names.end());  // the same order as bench/miss_cpu.sh
    std::vector<std::string> bytes;
    for (const auto& name : names) {
      std::ifstream in(name, std::ios::binary);
      std::ostringstream all;
      all << in.rdbuf();
      bytes.push_back(all.str());
    }
    if (bytes.empty()) {
      std::cerr << "pipeline_bench: no JPEGs in " << folder << " (run bash bench/corpus.sh)\n";
      std::exit(2);
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

Encoded make_miss(std::size_t i, Format format, int quality) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  Encoded encoded = make_variant(photos()[i % photos().size()], miss_request(i, format, quality), {},
                                 Limits{}, Quality{}, deadline);
  end_vips_job();  // as the service's worker does after every job
  return encoded;
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

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The CPU the same N misses take in-process, for bench/miss_cpu.sh's comparison.
int cpu_of(std::size_t count, std::string_view format_text) {
  const auto format = parse_output_format(format_text);
  if (!format) {
    std::cerr << "pipeline_bench: unknown format " << format_text << "\n";
    return 2;
  }
  const int quality = *format == Format::kJpeg ? 80 : *format == Format::kWebp ? 75 : 65;
  make_miss(0, *format, quality);  // warm: libvips' first-use set-up is no miss's cost
  const double before = process_cpu_seconds();
  for (std::size_t i = 0; i < count; ++i) make_miss(i, *format, quality);
  std::printf("cpu_seconds %.3f images %zu\n", process_cpu_seconds() - before, count);
  return 0;
}

}  // namespace
}  // namespace imageflex

int main(int argc, char** argv) {
  imageflex::init_vips(argv[0]);
  // The allocator and its settings as the server has them (and links them in: malloc_conf).
  std::cerr << "allocator: " << imageflex::describe_allocator() << "\n";
  std::size_t cpu_of = 0;
  std::string format = "jpeg";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.starts_with("--cpu-of=")) cpu_of = std::stoul(std::string(arg.substr(9)));
    if (arg.starts_with("--format=")) format = arg.substr(9);
  }
  imageflex::photos();  // read before any timing
  if (cpu_of > 0) return imageflex::cpu_of(cpu_of, format);
  imageflex::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
