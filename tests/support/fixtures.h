// Generated fixture images with known content, so tests can check what they see.
// Each is described where it is made (fixtures.cpp); tests/fixtures/README.md lists them.
#pragma once

#include <string>

namespace imageflex::test {

// Writes every fixture into `dir`.
void write_fixtures(const std::string& dir);

// A fresh empty folder under $TMPDIR (removed by remove_tree).
std::string make_temp_dir();
void remove_tree(const std::string& dir);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

// Colours the fixtures are painted with (sRGB).
inline constexpr double kRed[3] = {220, 20, 20};
inline constexpr double kGreen[3] = {20, 200, 20};
inline constexpr double kBlue[3] = {20, 20, 220};
inline constexpr double kYellow[3] = {230, 220, 20};
inline constexpr double kBrick[3] = {170, 80, 60};  // inside the CMYK gamut, unlike kRed

// The ink patches (percent C, M, Y, K) of the cmyk_* fixtures, kPatchSide square each,
// left to right: red, a rich black, plain black, a light blue, and no ink (paper).
inline constexpr int kCmykPatches[][4] = {
    {0, 100, 100, 0}, {100, 100, 100, 100}, {0, 0, 0, 100}, {60, 20, 0, 10}, {0, 0, 0, 0}};
inline constexpr int kPatchSide = 64;

// The CMYK profile embedded in the cmyk_profile.* fixtures (Debian's libgs-common):
// a press profile unlike libvips' built-in one, so only a conversion through the
// embedded profile gets its colours. Fixtures without a profile are converted with
// libvips' built-in CMYK profile, written as vips_cmyk.icc beside the fixtures.
inline constexpr const char* kCmykProfile = "/usr/share/color/icc/ghostscript/default_cmyk.icc";
// A linear-light grey profile (same package): grey 128 is not sRGB grey 128 in it.
inline constexpr const char* kLinearGreyProfile = "/usr/share/color/icc/ghostscript/ps_gray.icc";

}  // namespace imageflex::test

namespace imageflex::test {

// A large noisy JPEG (side x side) that takes libvips a while to encode as AVIF:
// for overload and deadline tests. Made on demand, not part of the fixture set.
std::string make_heavy_jpeg(int side);

// The AVIF effort at which make_heavy_jpeg(3000) outlasts a one-second deadline on any
// machine CI may get. Its encoder cannot be stopped: at the default effort (0) it took
// 1.4 s on one machine and 0.7-0.9 s on the next, under the deadline (a 200 failed CI);
// at effort 3 it takes about 4 s on the faster one, four times the deadline.
inline constexpr int kHeavyAvifEffort = 3;

}  // namespace imageflex::test
