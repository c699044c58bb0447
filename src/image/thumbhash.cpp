#include "image/thumbhash.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace imageflex {
namespace {

struct Channel {
  double dc = 0;
  std::vector<double> ac;  // normalised to 0..1
  double scale = 0;
};

// The DCT of one channel, keeping the terms inside a triangle of nx by ny.
Channel encode_channel(const std::vector<double>& channel, int width, int height, int nx, int ny) {
  Channel out;
  std::vector<double> fx(width);
  for (int cy = 0; cy < ny; ++cy) {
    for (int cx = 0; cx * ny < nx * (ny - cy); ++cx) {
      for (int x = 0; x < width; ++x) fx[x] = std::cos(std::numbers::pi / width * cx * (x + 0.5));
      double f = 0;
      for (int y = 0; y < height; ++y) {
        const double fy = std::cos(std::numbers::pi / height * cy * (y + 0.5));
        for (int x = 0; x < width; ++x) f += channel[x + y * width] * fx[x] * fy;
      }
      f /= static_cast<double>(width) * height;
      if (cx > 0 || cy > 0) {
        out.ac.push_back(f);
        out.scale = std::max(out.scale, std::abs(f));
      } else {
        out.dc = f;
      }
    }
  }
  if (out.scale > 0) {
    for (double& f : out.ac) f = 0.5 + 0.5 / out.scale * f;
  }
  return out;
}

int round_int(double v) {
  return static_cast<int>(std::lround(v));
}

}  // namespace

std::string thumbhash_encode(int width, int height, std::string_view rgba) {
  if (width < 1 || height < 1 || width > 100 || height > 100 ||
      rgba.size() != static_cast<std::size_t>(width) * height * 4) {
    throw std::invalid_argument("thumbhash needs 1..100 pixels a side of RGBA");
  }
  const int count = width * height;
  auto at = [&](int i) { return static_cast<unsigned char>(rgba[i]); };
  // The average colour, weighted by alpha.
  double avg_r = 0, avg_g = 0, avg_b = 0, avg_a = 0;
  for (int i = 0; i < count; ++i) {
    const double alpha = at(i * 4 + 3) / 255.0;
    avg_r += alpha / 255.0 * at(i * 4);
    avg_g += alpha / 255.0 * at(i * 4 + 1);
    avg_b += alpha / 255.0 * at(i * 4 + 2);
    avg_a += alpha;
  }
  if (avg_a > 0) {
    avg_r /= avg_a;
    avg_g /= avg_a;
    avg_b /= avg_a;
  }
  const bool has_alpha = avg_a < count;
  const int l_limit = has_alpha ? 5 : 7;  // fewer luminance terms when alpha needs room
  const int longer = std::max(width, height);
  const int lx = std::max(1, round_int(static_cast<double>(l_limit) * width / longer));
  const int ly = std::max(1, round_int(static_cast<double>(l_limit) * height / longer));
  // RGBA to LPQA, composited over the average colour.
  std::vector<double> l(count), p(count), q(count), a(count);
  for (int i = 0; i < count; ++i) {
    const double alpha = at(i * 4 + 3) / 255.0;
    const double r = avg_r * (1 - alpha) + alpha / 255.0 * at(i * 4);
    const double g = avg_g * (1 - alpha) + alpha / 255.0 * at(i * 4 + 1);
    const double b = avg_b * (1 - alpha) + alpha / 255.0 * at(i * 4 + 2);
    l[i] = (r + g + b) / 3;
    p[i] = (r + g) / 2 - b;
    q[i] = r - g;
    a[i] = alpha;
  }
  const Channel lc = encode_channel(l, width, height, std::max(3, lx), std::max(3, ly));
  const Channel pc = encode_channel(p, width, height, 3, 3);
  const Channel qc = encode_channel(q, width, height, 3, 3);
  const Channel ac = has_alpha ? encode_channel(a, width, height, 5, 5) : Channel{};

  const bool landscape = width > height;
  const std::uint32_t header24 = static_cast<std::uint32_t>(round_int(63 * lc.dc)) |
                                 static_cast<std::uint32_t>(round_int(31.5 + 31.5 * pc.dc)) << 6 |
                                 static_cast<std::uint32_t>(round_int(31.5 + 31.5 * qc.dc)) << 12 |
                                 static_cast<std::uint32_t>(round_int(31 * lc.scale)) << 18 |
                                 static_cast<std::uint32_t>(has_alpha) << 23;
  const std::uint32_t header16 = static_cast<std::uint32_t>(landscape ? ly : lx) |
                                 static_cast<std::uint32_t>(round_int(63 * pc.scale)) << 3 |
                                 static_cast<std::uint32_t>(round_int(63 * qc.scale)) << 9 |
                                 static_cast<std::uint32_t>(landscape) << 15;
  std::vector<std::uint8_t> hash = {
      static_cast<std::uint8_t>(header24 & 255), static_cast<std::uint8_t>((header24 >> 8) & 255),
      static_cast<std::uint8_t>(header24 >> 16), static_cast<std::uint8_t>(header16 & 255),
      static_cast<std::uint8_t>(header16 >> 8)};
  if (has_alpha) {
    hash.push_back(static_cast<std::uint8_t>(round_int(15 * ac.dc) | round_int(15 * ac.scale) << 4));
  }
  // The varying terms, two 4-bit values a byte.
  const std::size_t ac_start = hash.size();
  std::size_t index = 0;
  std::vector<const Channel*> channels = {&lc, &pc, &qc};
  if (has_alpha) channels.push_back(&ac);
  for (const Channel* channel : channels) {
    for (double f : channel->ac) {
      const std::size_t byte = ac_start + (index >> 1);
      if (byte >= hash.size()) hash.push_back(0);
      hash[byte] = static_cast<std::uint8_t>(hash[byte] | round_int(15 * f) << ((index & 1) << 2));
      ++index;
    }
  }
  return {hash.begin(), hash.end()};
}

ThumbhashAverage thumbhash_average(std::string_view hash) {
  auto byte = [&](std::size_t i) {
    return i < hash.size() ? static_cast<std::uint32_t>(static_cast<unsigned char>(hash[i])) : 0u;
  };
  const std::uint32_t header = byte(0) | byte(1) << 8 | byte(2) << 16;
  const double l = (header & 63) / 63.0;
  const double p = ((header >> 6) & 63) / 31.5 - 1;
  const double q = ((header >> 12) & 63) / 31.5 - 1;
  const bool has_alpha = (header >> 23) != 0;
  const double b = l - 2.0 / 3 * p;
  const double r = (3 * l - b + q) / 2;
  const double g = r - q;
  return {std::clamp(r, 0.0, 1.0), std::clamp(g, 0.0, 1.0), std::clamp(b, 0.0, 1.0),
          has_alpha ? (byte(5) & 15) / 15.0 : 1.0};
}

double thumbhash_aspect_ratio(std::string_view hash) {
  auto byte = [&](std::size_t i) { return i < hash.size() ? static_cast<unsigned char>(hash[i]) : 0; };
  const bool has_alpha = (byte(2) & 0x80) != 0;
  const bool landscape = (byte(4) & 0x80) != 0;
  const int lx = landscape ? (has_alpha ? 5 : 7) : byte(3) & 7;
  const int ly = landscape ? byte(3) & 7 : (has_alpha ? 5 : 7);
  return static_cast<double>(lx) / ly;
}

std::uint32_t dominant_colour(std::string_view rgba) {
  const std::size_t count = rgba.size() / 4;
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(rgba[i]); };
  bool any_opaque = false;
  for (std::size_t i = 0; i < count && !any_opaque; ++i) any_opaque = at(i * 4 + 3) >= 128;
  std::vector<std::array<std::uint64_t, 4>> bins(4096);  // sum r, g, b, count
  for (std::size_t i = 0; i < count; ++i) {
    if (any_opaque && at(i * 4 + 3) < 128) continue;
    const unsigned r = at(i * 4), g = at(i * 4 + 1), b = at(i * 4 + 2);
    auto& bin = bins[(r >> 4) << 8 | (g >> 4) << 4 | (b >> 4)];
    bin[0] += r;
    bin[1] += g;
    bin[2] += b;
    bin[3] += 1;
  }
  const auto fullest =
      std::max_element(bins.begin(), bins.end(), [](const auto& x, const auto& y) { return x[3] < y[3]; });
  if ((*fullest)[3] == 0) return 0;
  const std::uint64_t n = (*fullest)[3];
  auto mean = [&](int c) { return static_cast<std::uint32_t>(((*fullest)[c] + n / 2) / n); };
  return mean(0) << 16 | mean(1) << 8 | mean(2);
}

}  // namespace imageflex
