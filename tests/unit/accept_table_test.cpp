// The service's negotiation and the CloudFront Function (deploy/aws/functions/viewer-request.js)
// agree on one shared table of real Accept headers (tests/data/accept_headers.tsv): each row's
// class here, and the edge's rewritten Accept must make the very same variant as the original one.
// The Node test of the function reads the same files.
#include "common/error.h"
#include "negotiate/accept.h"
#include "request/image_request.h"
#include "request/key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace imageflex {
namespace {

const std::string kSourceDir = IMAGEFLEX_SOURCE_DIR;

// Non-comment lines of a tab-separated file, split into fields.
std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream stream(line);
    std::string field;
    while (std::getline(stream, field, '\t')) fields.push_back(field);
    if (!line.empty() && line.back() == '\t') fields.emplace_back();  // an empty last field
    rows.push_back(fields);
  }
  return rows;
}

struct AcceptRow {
  std::string description;
  std::string header;
  std::string expected_class;
};

std::vector<AcceptRow> accept_rows() {
  std::vector<AcceptRow> rows;
  for (const auto& fields : read_tsv(kSourceDir + "/tests/data/accept_headers.tsv")) {
    EXPECT_EQ(fields.size(), 3u) << "a row needs description, header and class";
    if (fields.size() == 3) rows.push_back({fields[0], fields[1], fields[2]});
  }
  return rows;
}

const AcceptClass kClasses[] = {AcceptClass::kAvif, AcceptClass::kWebp, AcceptClass::kOther};

TEST(AcceptTableTest, EveryRowGetsItsClass) {
  const auto rows = accept_rows();
  ASSERT_GE(rows.size(), 30u);
  std::map<std::string, int> per_class;
  for (const auto& row : rows) {
    EXPECT_EQ(accept_class_name(accept_class(parse_accept(row.header))), row.expected_class)
        << row.description << ": '" << row.header << "'";
    ++per_class[row.expected_class];
  }
  // The table must exercise every class, or agreement on it proves little.
  for (auto accept_class : kClasses) EXPECT_GE(per_class[std::string(accept_class_name(accept_class))], 5);
}

TEST(AcceptTableTest, CanonicalHeadersAreTheEdgesAndParseBackToTheirClass) {
  std::map<std::string, std::string> edge;  // class → what the CloudFront Function writes
  for (const auto& fields : read_tsv(kSourceDir + "/tests/data/accept_classes.tsv")) {
    ASSERT_EQ(fields.size(), 2u);
    edge[fields[0]] = fields[1];
  }
  ASSERT_EQ(edge.size(), 3u);
  for (auto accept_class : kClasses) {
    const std::string name(accept_class_name(accept_class));
    EXPECT_EQ(canonical_accept(accept_class), edge[name]) << name;
    EXPECT_EQ(imageflex::accept_class(parse_accept(canonical_accept(accept_class))), accept_class) << name;
  }
}

// Rewriting Accept at the edge must never change what the service makes: the same format
// for every kind of source, and the same stored variant.
TEST(AcceptTableTest, TheEdgesHeaderMakesTheSameVariantAsTheViewers) {
  const SourceInfo sources[] = {
      {Format::kJpeg, {}, 1, false}, {Format::kPng, {}, 1, true},   {Format::kGif, {}, 1, false},
      {Format::kTiff, {}, 1, false}, {Format::kTiff, {}, 1, true},  {Format::kGif, {}, 2, false},
      {Format::kWebp, {}, 2, true},  {Format::kAvif, {}, 1, false},
  };
  const ImageRequest request = parse_request("/photo.jpg?w=300", 8192);
  for (const auto& row : accept_rows()) {
    const auto viewer = parse_accept(row.header);
    const auto edge = parse_accept(canonical_accept(accept_class(viewer)));
    for (const auto& source : sources) {
      EXPECT_EQ(choose_format(edge, source), choose_format(viewer, source))
          << row.description << " with a " << format_name(source.format)
          << (source.alpha ? " with alpha" : "") << (source.animated() ? " animation" : "");
    }
    EXPECT_EQ(variant_key(request, "etag", edge, Quality{}), variant_key(request, "etag", viewer, Quality{}))
        << row.description;
  }
}

// The CloudFront Function keeps only the query parameters it lists; any parameter the
// parser reads but the function drops would silently never reach the service.
TEST(AcceptTableTest, TheEdgeKeepsExactlyTheParametersTheParserReads) {
  std::ifstream in(kSourceDir + "/deploy/aws/functions/viewer-request.js");
  ASSERT_TRUE(in);
  const std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::smatch list;
  ASSERT_TRUE(std::regex_search(source, list, std::regex(R"(var QUERY_PARAMETERS = \[([^\]]*)\])")));
  std::vector<std::string> edge;
  const std::string items = list[1];
  const std::regex quoted(R"('([^']*)')");
  for (std::sregex_iterator it(items.begin(), items.end(), quoted), end; it != end; ++it)
    edge.push_back((*it)[1]);
  // The image parameters and a signed URL's own, which must reach the service too.
  std::vector<std::string> parser(kQueryParameters.begin(), kQueryParameters.end());
  std::vector<std::string> forwarded = parser;
  forwarded.insert(forwarded.end(), kSignatureParameterNames.begin(), kSignatureParameterNames.end());
  std::sort(edge.begin(), edge.end());
  std::sort(forwarded.begin(), forwarded.end());
  EXPECT_EQ(edge, forwarded);

  // And the parser really reads each of them (a valid value makes a variant or a 400 for a bad one)...
  const std::map<std::string, std::string> valid = {
      {"w", "10"},          {"h", "10"},      {"fit", "contain"}, {"enlarge", "1"}, {"f", "png"},
      {"q", "50"},          {"blur", "5"},    {"sharpen", "0.5"}, {"trim", "10"},   {"lossless", "1"},
      {"progressive", "1"}, {"p", "thumb"},   {"meta", ""},       {"pos", "top"},   {"fp", "0.2,0.8"},
      {"dpr", "2"},         {"bg", "ff0000"}, {"rotate", "90"},   {"flip", "1"},    {"flop", "1"},
      {"crop", "0,0,10,10"}};
  const Presets presets = parse_presets("thumb: w=200", "test", 8192);
  for (const auto& name : parser) {
    ASSERT_TRUE(valid.count(name)) << "no sample value for " << name;
    EXPECT_THROW(parse_request("/a.jpg?" + name + "=bogus-value", 8192, presets), Error) << name;
    EXPECT_NO_THROW(parse_request("/a.jpg?" + name + "=" + valid.at(name), 8192, presets)) << name;
  }
  // ...and ignores names that are not in the list.
  for (const char* other : {"width", "W", "format", "quality", "fm", "x"}) {
    EXPECT_FALSE(parse_request(std::string("/a.jpg?") + other + "=bogus-value", 8192).wants_variant())
        << other;
  }
}

}  // namespace
}  // namespace imageflex
