// Opening beneath the store's folder on real files, both ways: openat2 (RESOLVE_BENEATH) and
// the component walk used where openat2 is missing (valgrind, old kernels, some sandboxes).
// Both must reach what is inside and refuse every way out.
#include "storage/open_beneath.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "common/unique_fd.h"
#include "fixtures.h"

namespace imageflex {
namespace {

namespace fs = std::filesystem;

using Opener = int (*)(int, const std::string&, int);

class OpenBeneathTest : public ::testing::TestWithParam<Opener> {
 protected:
  void SetUp() override {
    fs::create_directories(root_ + "/photos/2024");
    std::ofstream(root_ + "/photos/2024/a.jpg") << "inside";
    std::ofstream(outside_ + "/secret") << "outside";
    fs::create_directory_symlink(outside_, root_ + "/photos/away");
    fs::create_symlink(outside_ + "/secret", root_ + "/photos/secret.jpg");
    root_fd_.reset(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  void TearDown() override {
    test::remove_tree(root_);
    test::remove_tree(outside_);
  }

  // What opening PATH read-only gives: its bytes, or "errno N".
  std::string read(const std::string& path) {
    UniqueFd fd{GetParam()(root_fd_.get(), path, O_RDONLY)};
    if (!fd.valid()) return "errno " + std::to_string(errno);
    char buffer[64];
    const auto got = ::read(fd.get(), buffer, sizeof buffer);
    return got < 0 ? "read errno " + std::to_string(errno)
                   : std::string(buffer, static_cast<std::size_t>(got));
  }

  std::string root_ = test::make_temp_dir();
  std::string outside_ = test::make_temp_dir();
  UniqueFd root_fd_;
};

TEST_P(OpenBeneathTest, ReachesWhatIsInside) {
  EXPECT_EQ(read("photos/2024/a.jpg"), "inside");
  EXPECT_EQ(read("photos//2024/./a.jpg"), "inside");
  EXPECT_EQ(read("photos/2024/missing.jpg"), "errno " + std::to_string(ENOENT));
  UniqueFd folder{GetParam()(root_fd_.get(), "photos/2024", O_RDONLY | O_DIRECTORY)};
  EXPECT_TRUE(folder.valid());
  UniqueFd top{GetParam()(root_fd_.get(), ".", O_RDONLY | O_DIRECTORY)};
  EXPECT_TRUE(top.valid());
}

TEST_P(OpenBeneathTest, CreatesBeneath) {
  UniqueFd made{GetParam()(root_fd_.get(), "photos/2024/new.webp", O_WRONLY | O_CREAT | O_EXCL)};
  ASSERT_TRUE(made.valid());
  EXPECT_TRUE(fs::exists(root_ + "/photos/2024/new.webp"));
}

TEST_P(OpenBeneathTest, RefusesEveryWayOut) {
  EXPECT_EQ(read("../" + fs::path(outside_).filename().string() + "/secret"),
            "errno " + std::to_string(EXDEV));
  EXPECT_EQ(read("photos/../../x"), "errno " + std::to_string(EXDEV));
  EXPECT_EQ(read(outside_ + "/secret"), "errno " + std::to_string(EXDEV));
  // Symlinks out of the root, as a folder on the way and as the file itself.
  EXPECT_NE(read("photos/away/secret"), "outside");
  EXPECT_NE(read("photos/secret.jpg"), "outside");
  UniqueFd made{GetParam()(root_fd_.get(), "photos/away/planted", O_WRONLY | O_CREAT)};
  EXPECT_FALSE(made.valid());
  EXPECT_FALSE(fs::exists(outside_ + "/planted"));
}

INSTANTIATE_TEST_SUITE_P(Ways, OpenBeneathTest, ::testing::Values(&open_beneath, &open_beneath_by_walk),
                         [](const auto& info) { return info.index == 0 ? "Openat2" : "Walk"; });

}  // namespace
}  // namespace imageflex
