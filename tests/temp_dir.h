// TempDir: a fresh directory under `base`, removed with everything in it at scope exit.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace snapcow::test {

struct TempDir {
  explicit TempDir(const std::string& prefix = "/tmp/snapcow-test") {
    std::string tmpl = prefix + "-XXXXXX";
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

}  // namespace snapcow::test
