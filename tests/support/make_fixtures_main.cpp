// make_fixtures DIR: writes the generated test images once for a whole ctest run.
#include <iostream>

#include "fixtures.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_fixtures DIR\n";
    return 2;
  }
  imageflex::test::write_fixtures(argv[1]);
  return 0;
}
