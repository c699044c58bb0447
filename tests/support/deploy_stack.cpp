#include "deploy_stack.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace imageflex::test {

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    env[line.substr(0, eq)] = value;
  }
  return env;
}

long stats_counter(HttpClient& client, const std::string& node_url, const std::string& name) {
  HttpResponse response = client.get(node_url + "/_imageflex/stats");
  std::smatch match;
  if (response.status != 200 ||
      !std::regex_search(response.body, match, std::regex("\"" + name + "\":([0-9]+)"))) {
    throw std::runtime_error("no counter " + name + " from " + node_url + ": " + response.body);
  }
  return std::stol(match[1]);
}

}  // namespace imageflex::test
