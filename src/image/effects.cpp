#include "image/effects.h"

#include <algorithm>
#include <cmath>

namespace imageflex {

BlurPlan plan_blur(double sigma, Size size) {
  const int longer = std::max(1, std::max(size.width, size.height));
  sigma = std::min(sigma, std::max(kMinBlurSigma, longer / 4.0));
  if (sigma <= kMaxDirectBlurSigma) return {1, sigma};
  // Never shrink below a few pixels: the enlarge back would only be a flat colour.
  const int shrink =
      std::clamp(static_cast<int>(std::ceil(sigma / kMaxDirectBlurSigma)), 1, std::max(1, longer / 4));
  return {shrink, sigma / shrink};
}

std::uint64_t effects_memory(const Effects& effects, std::uint64_t pixels, int bands) {
  std::uint64_t bytes = 0;
  if (effects.trim > 0) bytes += pixels * static_cast<std::uint64_t>(bands);
  if (effects.blur > 0 || effects.sharpen > 0) bytes += pixels * static_cast<std::uint64_t>(bands) * 4;
  return bytes;
}

}  // namespace imageflex
