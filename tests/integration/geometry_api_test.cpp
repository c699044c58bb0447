// Issue 11's geometry, measured on real decoded pictures from the real server. The
// fixture portrait_exif6.jpg is 300x200 upright: its left half red, its right half blue.
#include "integration.h"

namespace imageflex::test {
namespace {

class GeometryApiTest : public ServiceTest {
 protected:
  // The mean colour of a w x h box at x,y is near `colour`.
  static void expect_colour(const std::string& bytes, int x, int y, int w, int h, const double (&colour)[3],
                            const std::string& what) {
    EXPECT_LT(colour_distance(rgb_of(mean_colour(bytes, x, y, w, h)), rgb(colour)), 20) << what;
  }
};
IMAGEFLEX_ON_EVERY_BACKEND(GeometryApiTest);

TEST_P(GeometryApiTest, PosKeepsTheNamedSide) {
  auto left = get("/portrait_exif6.jpg?w=100&h=200&pos=left&f=png");
  expect_image(left, "pngload", 100, 200);
  expect_colour(left.body, 10, 10, 80, 180, kRed, "pos=left");
  auto right = get("/portrait_exif6.jpg?w=100&h=200&pos=right&f=png");
  expect_colour(right.body, 10, 10, 80, 180, kBlue, "pos=right");
  // A focal point at the far right keeps the same box as pos=right: one variant.
  auto focal = get("/portrait_exif6.jpg?w=100&h=200&fp=0.95,0.1&f=png");
  expect_colour(focal.body, 10, 10, 80, 180, kBlue, "fp=0.95,0.1");
  EXPECT_EQ(focal.header("etag"), right.header("etag"));
  // Smart crop answers with the box's size.
  expect_image(get("/portrait_exif6.jpg?w=100&h=200&pos=attention&f=png"), "pngload", 100, 200);
}

TEST_P(GeometryApiTest, SmartCropKeepsTheDetail) {
  // busy_right.png is flat grey with a checkerboard (edge energy 16) as its right third:
  // a centred box sees only grey, libvips' smart crop moves the box onto the detail.
  auto centred = get("/busy_right.png?w=128&h=128&f=png");
  expect_image(centred, "pngload", 128, 128);
  EXPECT_LT(edge_energy(centred.body), 1.0);
  for (const std::string pos : {"entropy", "attention"}) {
    auto smart = get("/busy_right.png?w=128&h=128&f=png&pos=" + pos);
    expect_image(smart, "pngload", 128, 128);
    EXPECT_GT(edge_energy(smart.body), 8.0) << "pos=" << pos << " did not move onto the detail";
  }
}

TEST_P(GeometryApiTest, RotateSwapsTheSidesAndMovesTheHalves) {
  // Clockwise by 90: the left (red) half becomes the top.
  auto rotated = get("/portrait_exif6.jpg?rotate=90&f=png");
  expect_image(rotated, "pngload", 200, 300);
  expect_colour(rotated.body, 20, 20, 160, 100, kRed, "rotate=90 top");
  expect_colour(rotated.body, 20, 180, 160, 100, kBlue, "rotate=90 bottom");
  // w bounds the rotated picture.
  expect_image(get("/portrait_exif6.jpg?rotate=270&w=100&f=png"), "pngload", 100, 150);
}

TEST_P(GeometryApiTest, FlopMirrorsAndFlipKeepsTheHalves) {
  auto flopped = get("/portrait_exif6.jpg?flop=1&f=png");
  expect_colour(flopped.body, 10, 20, 120, 160, kBlue, "flop left");
  expect_colour(flopped.body, 170, 20, 120, 160, kRed, "flop right");
  auto flipped = get("/portrait_exif6.jpg?flip=1&f=png");
  expect_colour(flipped.body, 10, 20, 120, 160, kRed, "flip left");
}

TEST_P(GeometryApiTest, CropCutsTheRegionAndRefusesOneOutside) {
  auto right_half = get("/portrait_exif6.jpg?crop=160,0,140,200&f=png");
  expect_image(right_half, "pngload", 140, 200);
  expect_colour(right_half.body, 10, 10, 120, 180, kBlue, "crop right half");
  EXPECT_EQ(get("/portrait_exif6.jpg?crop=200,0,101,200").status, 400);
}

TEST_P(GeometryApiTest, BackgroundFillsTheLetterbox) {
  auto boxed = get("/portrait_exif6.jpg?w=300&h=300&fit=contain&bg=14c814&f=png");
  expect_image(boxed, "pngload", 300, 300);
  expect_colour(boxed.body, 10, 5, 280, 30, kGreen, "letterbox top band");
  expect_colour(boxed.body, 10, 60, 100, 100, kRed, "picture");
  // Alpha flattened into JPEG lands on bg=: alpha.png's transparent right half turns green.
  auto flattened = get("/alpha.png?f=jpeg&bg=14c814");
  expect_image(flattened, "jpegload", 200, 100);
  expect_colour(flattened.body, 10, 10, 70, 80, kRed, "opaque half");
  expect_colour(flattened.body, 120, 10, 70, 80, kGreen, "transparent half, flattened onto bg");
}

TEST_P(GeometryApiTest, DprMultipliesAndIsTheSameVariant) {
  auto doubled = get("/portrait_exif6.jpg?w=75&dpr=2&f=png");
  expect_image(doubled, "pngload", 150, 100);
  EXPECT_EQ(doubled.header("etag"), get("/portrait_exif6.jpg?w=150&f=png").header("etag"));
  // Never enlarged without enlarge: the original is 300 wide.
  expect_image(get("/portrait_exif6.jpg?w=200&dpr=2&f=png"), "pngload", 300, 200);
  // Client hints are off by default: ignored, and not announced.
  auto hinted = get("/portrait_exif6.jpg?w=75&f=png", {"Sec-CH-DPR: 2"});
  expect_image(hinted, "pngload", 75, 50);
  EXPECT_FALSE(hinted.has_header("accept-ch"));
}

class ClientHintsTest : public GeometryApiTest {
 protected:
  std::vector<std::string> server_args() override { return {"--client-hints", "true"}; }
};
IMAGEFLEX_ON_EVERY_BACKEND(ClientHintsTest);

TEST_P(ClientHintsTest, SecChDprIsHonouredAndAnnounced) {
  auto hinted = get("/portrait_exif6.jpg?w=75&f=png", {"Sec-CH-DPR: 2"});
  expect_image(hinted, "pngload", 150, 100);
  EXPECT_EQ(hinted.header("etag"), get("/portrait_exif6.jpg?w=150&f=png").header("etag"));
  EXPECT_EQ(hinted.header("accept-ch"), "Sec-CH-DPR, Sec-CH-Width");
  EXPECT_NE(hinted.header("vary").find("Sec-CH-DPR"), std::string::npos) << hinted.header("vary");
  // dpr= in the URL wins over the hint; a width hint stands for an absent w.
  expect_image(get("/portrait_exif6.jpg?w=75&dpr=1&f=png", {"Sec-CH-DPR: 2"}), "pngload", 75, 50);
  expect_image(get("/portrait_exif6.jpg?f=png", {"Sec-CH-Width: 120"}), "pngload", 120, 80);
  // A malformed hint is ignored, not refused.
  expect_image(get("/portrait_exif6.jpg?w=75&f=png", {"Sec-CH-DPR: lots"}), "pngload", 75, 50);
}

}  // namespace
}  // namespace imageflex::test
