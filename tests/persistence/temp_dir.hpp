#pragma once

// A fresh directory under the system temp dir, removed with everything in it
// when the object goes.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace presence::test {

class temp_dir {
public:
  temp_dir() {
    auto tmpl = (std::filesystem::temp_directory_path()
                 / "presence-test-XXXXXX")
                  .string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = buf.data();
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }

  /// A path inside the directory (not created).
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

} // namespace presence::test
