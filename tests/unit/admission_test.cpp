// Admission by cost: the estimates from the header, the output bounds, the budget gate
// and where the budget's default comes from.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "common/error.h"
#include "http/admission.h"
#include "image/cost.h"
#include "sources.h"

namespace imageflex {
namespace {

using test::source_of;

using std::chrono::milliseconds;

constexpr std::uint64_t kMiB = 1ull << 20;

TEST(CostTest, EstimatesFollowTheMeasuredOrder) {
  // 5120x2880 to 4000 wide: the server's measurements in cost.cpp (AVIF 184-201 MiB for
  // baseline JPEGs of 0.7-4 MB), within a factor the model allows.
  const SourceInfo jpeg = source_of(Format::kJpeg, 5120, 2880);
  const Plan to_4000 = plan_geometry(jpeg.size, {4000, 0, Fit::kCover, false});
  const auto jpeg_to_avif = estimate_memory(jpeg, 2 * kMiB, to_4000, Format::kAvif);
  EXPECT_GE(jpeg_to_avif, 190 * kMiB);
  EXPECT_LE(jpeg_to_avif, 250 * kMiB);
  EXPECT_GE(estimate_memory(jpeg, 2 * kMiB, to_4000, Format::kWebp), 57 * kMiB);
  const SourceInfo avif = source_of(Format::kAvif, 5120, 2880);
  const Plan small = plan_geometry(avif.size, {400, 0, Fit::kCover, false});
  EXPECT_GE(estimate_memory(avif, kMiB, small, Format::kJpeg), 98 * kMiB) << "AVIF decodes whole";
  EXPECT_LT(estimate_memory(jpeg, kMiB, small, Format::kJpeg), 16 * kMiB) << "JPEG shrinks on load";
  // Progressive JPEG buffers the whole image; an animation pays for every frame.
  SourceInfo progressive = jpeg;
  progressive.progressive = true;
  EXPECT_GT(estimate_memory(progressive, kMiB, small, Format::kJpeg), 80 * kMiB);
  SourceInfo gif = source_of(Format::kGif, 500, 500);
  gif.frames = 100;
  const Plan same = plan_geometry(gif.size, {});
  SourceInfo still = gif;
  still.frames = 1;
  EXPECT_GT(estimate_memory(gif, kMiB, same, Format::kWebp),
            20 * estimate_memory(still, kMiB, same, Format::kWebp));
}

TEST(CostTest, OutputPixelsAreBoundedOverFrames) {
  Limits limits;
  limits.max_output_pixels = 50'000'000;
  const SourceInfo jpeg = source_of(Format::kJpeg, 1200, 800);
  const Plan huge = plan_geometry(jpeg.size, {8192, 8192, Fit::kFill, true});
  EXPECT_EQ(output_pixels(jpeg, huge, Format::kPng), 8192ull * 8192);
  EXPECT_THROW(check_output_pixels(jpeg, huge, Format::kPng, limits), Error);
  EXPECT_NO_THROW(check_output_pixels(jpeg, plan_geometry(jpeg.size, {}), Format::kPng, limits));
  SourceInfo gif = source_of(Format::kGif, 1000, 1000);
  gif.frames = 60;
  const Plan same = plan_geometry(gif.size, {});
  EXPECT_THROW(check_output_pixels(gif, same, Format::kGif, limits), Error) << "60 MP over all frames";
  EXPECT_NO_THROW(check_output_pixels(gif, same, Format::kPng, limits)) << "a PNG keeps one frame";
}

TEST(AdmissionTest, AdmitsWithinTheBudgetAndReleasesWithTheTicket) {
  Admission admission(100 * kMiB, 4);
  const auto deadline = Admission::Clock::now() + milliseconds(2000);
  auto a = admission.admit(60 * kMiB, deadline);
  auto b = admission.admit(40 * kMiB, deadline);
  EXPECT_EQ(admission.admitted_bytes(), 100 * kMiB);
  a.reset();
  EXPECT_EQ(admission.admitted_bytes(), 40 * kMiB);
  b.reset();
  EXPECT_EQ(admission.admitted_bytes(), 0u);
}

TEST(AdmissionTest, AJobLargerThanTheBudgetIsTooLarge) {
  Admission admission(100 * kMiB, 4);
  try {
    admission.admit(101 * kMiB, Admission::Clock::now() + milliseconds(1000));
    FAIL() << "admitted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kTooLarge);
  }
}

TEST(AdmissionTest, AWaiterIsAdmittedWhenRoomIsMade) {
  Admission admission(100 * kMiB, 4);
  auto held = admission.admit(80 * kMiB, Admission::Clock::now() + milliseconds(1000));
  std::atomic<bool> admitted{false};
  std::thread waiter([&] {
    auto ticket = admission.admit(50 * kMiB, Admission::Clock::now() + std::chrono::seconds(30));
    admitted = true;
  });
  while (admission.waiting() == 0) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_FALSE(admitted.load());
  held.reset();
  waiter.join();
  EXPECT_TRUE(admitted.load());
  EXPECT_EQ(admission.admitted_bytes(), 0u);
}

TEST(AdmissionTest, NoRoomBeforeTheDeadlineOrTooManyWaitingIsOverloaded) {
  Admission admission(100 * kMiB, 1);
  auto held = admission.admit(100 * kMiB, Admission::Clock::now() + milliseconds(1000));
  try {
    admission.admit(kMiB, Admission::Clock::now() + milliseconds(20));
    FAIL() << "admitted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kOverloaded);
  }
  std::thread waiter(
      [&] { EXPECT_THROW(admission.admit(kMiB, Admission::Clock::now() + milliseconds(300)), Error); });
  while (admission.waiting() == 0) std::this_thread::sleep_for(milliseconds(1));
  try {
    admission.admit(kMiB, Admission::Clock::now() + std::chrono::seconds(30));
    FAIL() << "a second waiter was let in";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kOverloaded);
  }
  waiter.join();
}

TEST(AdmissionTest, TheDefaultBudgetComesFromTheCgroupOrTheMachine) {
  EXPECT_EQ(parse_memory_max("max\n"), 0u);
  EXPECT_EQ(parse_memory_max("2147483648\n"), 2147483648u);
  EXPECT_EQ(parse_memory_max(""), 0u);
  EXPECT_EQ(parse_mem_total("MemTotal:       25165824 kB\nMemFree:  1 kB\n"), 25165824ull << 10);
  EXPECT_EQ(parse_mem_total("MemFree: 1 kB\n"), 0u);
  const std::uint64_t budget = default_memory_budget(64 * kMiB);
  EXPECT_GE(budget, 64 * kMiB + 128 * kMiB) << "room for the cache and a transform";
}

// A systemd service is not in a cgroup namespace: /sys/fs/cgroup/memory.max is the root's,
// which does not exist, and its MemoryMax= is in its own cgroup's folder.
TEST(AdmissionTest, TheCgroupLimitIsTheProcessCgroupsOrAParentsSmaller) {
  const std::map<std::string, std::string> files = {
      {"/sys/fs/cgroup/system.slice/imageflex.service/memory.max", "2147483648\n"},
      {"/sys/fs/cgroup/system.slice/memory.max", "max\n"},
      {"/sys/fs/cgroup/small.slice/memory.max", "1073741824\n"},
      {"/sys/fs/cgroup/small.slice/imageflex.service/memory.max", "2147483648\n"},
      {"/sys/fs/cgroup/open.slice/imageflex.service/memory.max", "max\n"},
  };
  const auto read = [&](const std::string& path) {
    const auto found = files.find(path);
    return found == files.end() ? std::string() : found->second;
  };
  struct Row {
    std::string proc_self_cgroup;
    std::uint64_t limit;
  };
  const Row rows[] = {
      {"0::/system.slice/imageflex.service\n", 2048 * kMiB},  // the unit's MemoryMax=2G
      {"0::/small.slice/imageflex.service\n", 1024 * kMiB},   // its slice's is smaller
      {"0::/open.slice/imageflex.service\n", 0},              // no limit anywhere
      {"12:memory:/docker/x\n0::/\n", 0},                     // hybrid host, root: none
      {"12:memory:/docker/x\n", 0},                           // cgroup v1 only
      {"", 0},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(cgroup_memory_limit(row.proc_self_cgroup, read), row.limit) << row.proc_self_cgroup;
  }
  // A container in its own cgroup namespace: "0::/" and its limit at the top.
  const auto container = [](const std::string& path) {
    return path == "/sys/fs/cgroup/memory.max" ? std::string("536870912\n") : std::string();
  };
  EXPECT_EQ(cgroup_memory_limit("0::/\n", container), 512 * kMiB);
}

// The budget bounds the process: memory held outside transforms (at start, in the memory
// cache) is room no transform gets. A shield run measured 395 MiB against a 300 MiB budget
// when only the estimates were counted.
TEST(AdmissionTest, ReservedMemoryLeavesLessRoom) {
  std::atomic<std::uint64_t> reserved{30 * kMiB};
  Admission admission(100 * kMiB, 4, {.reserved = [&] { return reserved.load(); }});
  const auto soon = Admission::Clock::now() + milliseconds(100);
  try {
    admission.admit(71 * kMiB, soon);
    FAIL() << "admitted past the reserved memory";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kTooLarge);
    EXPECT_NE(std::string(error.what()).find("70 MiB"), std::string::npos) << error.what();
  }
  auto held = admission.admit(40 * kMiB, soon);
  reserved = 60 * kMiB;  // the memory cache grew: a job that fitted before now waits
  EXPECT_THROW(admission.admit(10 * kMiB, Admission::Clock::now() + milliseconds(50)), Error);
  held.reset();
  EXPECT_NO_THROW(admission.admit(40 * kMiB, soon));
}

TEST(AdmissionTest, ResidentMemoryHoldsJobsBackOnlyWhileOthersRun) {
  // 85 MiB: under the watch's 7/8 of the budget, so only admission asks memory back here.
  std::atomic<std::uint64_t> resident{85 * kMiB};
  std::atomic<int> releases{0};
  Admission admission(
      100 * kMiB, 4,
      {.resident = [&] { return resident.load(); }, .release_free_memory = [&] { ++releases; }});
  // Nothing running: resident memory the process keeps can never block the next job.
  auto first = admission.admit(10 * kMiB, Admission::Clock::now() + milliseconds(100));
  // One running and resident memory leaves no room: the estimates fit, the process does not.
  std::atomic<bool> admitted{false};
  std::thread waiter([&] {
    auto ticket = admission.admit(20 * kMiB, Admission::Clock::now() + std::chrono::seconds(30));
    admitted = true;
  });
  while (admission.waiting() == 0) std::this_thread::sleep_for(milliseconds(1));
  std::this_thread::sleep_for(milliseconds(150));
  EXPECT_FALSE(admitted.load());
  EXPECT_GE(releases.load(), 1) << "freed memory is asked back when it alone is in the way";
  resident = 50 * kMiB;  // memory went back to the kernel, with no release of a ticket
  waiter.join();
  EXPECT_TRUE(admitted.load());
  EXPECT_EQ(admission.purges(), 0u);
}

TEST(AdmissionTest, WhileJobsRunResidentMemoryNearTheBudgetIsHandedBack) {
  std::atomic<std::uint64_t> resident{95 * kMiB};
  std::atomic<int> releases{0};
  Admission admission(
      100 * kMiB, 4,
      {.resident = [&] { return resident.load(); }, .release_free_memory = [&] { ++releases; }});
  // No job has run: there is nothing of theirs to hand back.
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(releases.load(), 0);
  // A job runs and resident memory passes 7/8 of the budget, with no admission or release to
  // look at it: the watch asks for freed memory back.
  auto job = admission.admit(10 * kMiB, Admission::Clock::now() + milliseconds(100));
  for (int i = 0; i < 500 && releases.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_GE(releases.load(), 1);
  // Under the mark, nothing is asked.
  resident = 50 * kMiB;
  std::this_thread::sleep_for(milliseconds(100));
  const int after = releases.load();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(releases.load(), after);
  EXPECT_GE(admission.purges(), 1u);
}

// The allocator keeps what a job freed for the next one (allocator.cpp); once jobs go quiet
// for a second it is handed back, once, so RSS falls after a burst without a decay timer.
TEST(AdmissionTest, OnceJobsGoQuietFreedMemoryIsHandedBackOnce) {
  std::atomic<int> releases{0};
  Admission admission(100 * kMiB, 4,
                      {.resident = [] { return 10 * kMiB; }, .release_free_memory = [&] { ++releases; }});
  auto job = admission.admit(10 * kMiB, Admission::Clock::now() + milliseconds(100));
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(releases.load(), 0) << "far under the budget while a job runs: its pages are kept";
  job.reset();
  const auto ended = Admission::Clock::now();
  for (int i = 0; i < 500 && releases.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(releases.load(), 1);
  EXPECT_GE(Admission::Clock::now() - ended, milliseconds(900)) << "handed back before the quiet second";
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(releases.load(), 1) << "one hand-back per quiet spell";
  EXPECT_EQ(admission.purges(), 1u);
}

// Misses that never stop still hand memory back, every five seconds, when the allocator keeps
// more than they were admitted for: what their mix of sizes leaves unused must not pile up (a
// 10-minute soak grew to 10 GiB without it).
TEST(AdmissionTest, WhileJobsNeverStopFreedMemoryOverTheirNeedIsHandedBackEveryFiveSeconds) {
  std::atomic<int> releases{0};
  Admission admission(100 * kMiB, 4,
                      {.resident = [] { return 10 * kMiB; },
                       .release_free_memory = [&] { ++releases; },
                       .kept = [] { return 30 * kMiB; }});
  const auto admitted = Admission::Clock::now();
  auto job = admission.admit(10 * kMiB, admitted + milliseconds(100));
  std::this_thread::sleep_for(milliseconds(4000));
  EXPECT_EQ(releases.load(), 0) << "within the first five seconds the pages are kept";
  for (int i = 0; i < 400 && releases.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(releases.load(), 1);
  EXPECT_GE(Admission::Clock::now() - admitted, milliseconds(4900));
}

// One job after another, each admitted after the last ends: the freed memory kept within what
// one of them really uses (up to one and a half times its estimate) is the next one's working
// set. A hand-back every five seconds regardless cost such a stream 30-45 page faults a miss
// instead of 10-15, and one whenever more than the estimate was kept (29 MB admitted, 34-36 MB
// kept) cost a round of one-at-a-time JPEG misses about 35 (BENCHMARKS.md).
TEST(AdmissionTest, WhileJobsNeverStopFreedMemoryWithinTheirNeedIsKept) {
  std::atomic<int> releases{0};
  std::atomic<std::uint64_t> kept{25 * kMiB};
  Admission admission(100 * kMiB, 4,
                      {.resident = [] { return 30 * kMiB; },
                       .release_free_memory = [&] { ++releases; },
                       .kept = [&] { return kept.load(); }});
  auto stream = [&](std::chrono::milliseconds length, bool until_a_release) {
    const auto end = Admission::Clock::now() + length;
    while (Admission::Clock::now() < end && !(until_a_release && releases.load() > 0)) {
      auto job = admission.admit(20 * kMiB, Admission::Clock::now() + milliseconds(100));
      std::this_thread::sleep_for(milliseconds(20));
    }
  };
  stream(milliseconds(5600), false);
  EXPECT_EQ(releases.load(), 0) << "25 MiB kept for jobs of 20 MiB";
  kept = 31 * kMiB;  // over one and a half jobs: it goes back at the next weighing
  stream(milliseconds(5600), true);
  EXPECT_EQ(releases.load(), 1);
}

// A job that starts within the quiet second reuses what the last one freed: nothing is handed
// back between two misses.
TEST(AdmissionTest, AJobWithinTheQuietSecondKeepsTheFreedMemory) {
  std::atomic<int> releases{0};
  Admission admission(100 * kMiB, 4,
                      {.resident = [] { return 10 * kMiB; }, .release_free_memory = [&] { ++releases; }});
  auto first = admission.admit(10 * kMiB, Admission::Clock::now() + milliseconds(100));
  first.reset();
  std::this_thread::sleep_for(milliseconds(200));
  auto second = admission.admit(10 * kMiB, Admission::Clock::now() + milliseconds(100));
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(releases.load(), 0);
  second.reset();
  for (int i = 0; i < 500 && releases.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(releases.load(), 1);
}

}  // namespace
}  // namespace imageflex
