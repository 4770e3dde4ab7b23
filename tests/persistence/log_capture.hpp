#pragma once

// Records what one folder logger says, to check what is logged and how
// often. Attach before the code under test starts and let it end first (the
// capture detaches in its destructor).

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/sinks/base_sink.h>

#include "core/logger.hpp"

namespace presence::test {

class capture_sink : public spdlog::sinks::base_sink<std::mutex> {
public:
  using record = std::pair<spdlog::level::level_enum, std::string>;

  std::vector<record> records() {
    std::lock_guard<std::mutex> guard{this->mutex_};
    return records_;
  }

  /// Records at `level` whose text contains `part`.
  size_t count(spdlog::level::level_enum level, const std::string& part = "") {
    size_t n = 0;
    for (auto& [lvl, text] : records())
      if (lvl == level && text.find(part) != std::string::npos)
        ++n;
    return n;
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    records_.emplace_back(msg.level,
                          std::string{msg.payload.data(), msg.payload.size()});
  }

  void flush_() override {
    // nop
  }

private:
  std::vector<record> records_;
};

class log_capture {
public:
  explicit log_capture(const char* folder)
    : logger_(folder_logger(folder)), sink_(std::make_shared<capture_sink>()) {
    logger_->sinks().push_back(sink_);
  }

  ~log_capture() {
    auto& sinks = logger_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }

  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  capture_sink& sink() { return *sink_; }

private:
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<capture_sink> sink_;
};

} // namespace presence::test
