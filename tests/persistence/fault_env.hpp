#pragma once

// A RocksDB environment whose disk fails on demand: while failing, Append,
// Flush, Sync and Fsync of every file RocksDB writes (the WAL first, but
// also the MANIFEST and tables) return an I/O error. Reads keep working.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/io_status.h>

namespace presence::test {

/// What the failing files share with their file system.
struct fault_switch {
  std::atomic<bool> failing{false};
  /// Writes refused so far (a test can tell the fault was really hit).
  std::atomic<uint64_t> refused{0};

  bool refuse() {
    if (!failing)
      return false;
    ++refused;
    return true;
  }
};

/// A writable file that fails while the switch is on.
class failing_file : public rocksdb::FSWritableFileOwnerWrapper {
public:
  failing_file(std::unique_ptr<rocksdb::FSWritableFile> f,
               std::shared_ptr<fault_switch> sw)
    : FSWritableFileOwnerWrapper(std::move(f)), sw_(std::move(sw)) {
    // nop
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& opts,
                           rocksdb::IODebugContext* dbg) override {
    if (sw_->refuse())
      return injected();
    return FSWritableFileOwnerWrapper::Append(data, opts, dbg);
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& opts,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (sw_->refuse())
      return injected();
    return FSWritableFileOwnerWrapper::Append(data, opts, info, dbg);
  }

  rocksdb::IOStatus Flush(const rocksdb::IOOptions& opts,
                          rocksdb::IODebugContext* dbg) override {
    if (sw_->refuse())
      return injected();
    return FSWritableFileOwnerWrapper::Flush(opts, dbg);
  }

  rocksdb::IOStatus Sync(const rocksdb::IOOptions& opts,
                         rocksdb::IODebugContext* dbg) override {
    if (sw_->refuse())
      return injected();
    return FSWritableFileOwnerWrapper::Sync(opts, dbg);
  }

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& opts,
                          rocksdb::IODebugContext* dbg) override {
    if (sw_->refuse())
      return injected();
    return FSWritableFileOwnerWrapper::Fsync(opts, dbg);
  }

private:
  static rocksdb::IOStatus injected() {
    return rocksdb::IOStatus::IOError("injected fault");
  }

  std::shared_ptr<fault_switch> sw_;
};

/// The default file system, with every writable file wrapped.
class fault_fs : public rocksdb::FileSystemWrapper {
public:
  explicit fault_fs(std::shared_ptr<fault_switch> sw)
    : FileSystemWrapper(rocksdb::FileSystem::Default()), sw_(std::move(sw)) {
    // nop
  }

  const char* Name() const override { return "presence_fault_fs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name,
                                    const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    return wrap(target()->NewWritableFile(name, opts, r, dbg), r);
  }

  rocksdb::IOStatus
  ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& opts,
                     std::unique_ptr<rocksdb::FSWritableFile>* r,
                     rocksdb::IODebugContext* dbg) override {
    return wrap(target()->ReopenWritableFile(name, opts, r, dbg), r);
  }

  rocksdb::IOStatus
  ReuseWritableFile(const std::string& name, const std::string& old_name,
                    const rocksdb::FileOptions& opts,
                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                    rocksdb::IODebugContext* dbg) override {
    return wrap(target()->ReuseWritableFile(name, old_name, opts, r, dbg), r);
  }

private:
  rocksdb::IOStatus wrap(rocksdb::IOStatus st,
                         std::unique_ptr<rocksdb::FSWritableFile>* r) {
    if (st.ok())
      r->reset(new failing_file(std::move(*r), sw_));
    return st;
  }

  std::shared_ptr<fault_switch> sw_;
};

/// Owns the switch, the file system and the Env built on it. Pass `env()`
/// to store_db::open; it must outlive the store.
class fault_env {
public:
  fault_env()
    : sw_(std::make_shared<fault_switch>()),
      env_(rocksdb::NewCompositeEnv(std::make_shared<fault_fs>(sw_))) {
    // nop
  }

  rocksdb::Env* env() const { return env_.get(); }

  /// Turns the disk bad (true) or good again (false).
  void fail(bool on) { sw_->failing = on; }

  /// Writes refused so far.
  uint64_t refused() const { return sw_->refused; }

private:
  std::shared_ptr<fault_switch> sw_;
  std::unique_ptr<rocksdb::Env> env_;
};

} // namespace presence::test
