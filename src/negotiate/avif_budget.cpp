#include "negotiate/avif_budget.h"

#include "image/cost.h"

namespace imageflex {

std::optional<AvifDeferral> defer_avif(Format output, bool negotiated, const AcceptedFormats& accepted,
                                       const SourceInfo& source, const Plan& plan, int avif_effort,
                                       int budget_ms) {
  if (budget_ms <= 0 || output != Format::kAvif || !negotiated) return std::nullopt;
  const double estimate = estimate_avif_encode_ms(output_pixels(source, plan, output), avif_effort);
  if (estimate <= budget_ms) return std::nullopt;
  AcceptedFormats without_avif = accepted;
  without_avif.avif = false;
  const Format now = choose_format(without_avif, source);
  if (now == Format::kAvif) return std::nullopt;  // never: no AVIF without AVIF accepted
  return AvifDeferral{now, estimate};
}

}  // namespace imageflex
