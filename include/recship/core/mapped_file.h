// A file's bytes mapped into memory, for data too large to copy into the heap
// (embedding table shards): pages are read on first touch, live in the page
// cache and are shared by every process and every mapping of the same file.
//
// A read-only mapping (the default) is never charged as committed memory
// and no code can write to the file through it: a write faults. A
// copy-on-write mapping may be written: the first write to a page copies it
// into the process's anonymous memory, and the file never changes. It is
// mapped without reserving swap (MAP_NORESERVE), so it is charged for the
// pages written only. Files must not change while mapped (recship's exports
// never rewrite a file they wrote). If one is truncated anyway, touching a page past its new end
// raises SIGBUS; a process that called InstallSigbusGuard() then reads zeros there instead of
// dying, and damaged() becomes true, so the owner can log and reload.
#ifndef RECSHIP_CORE_MAPPED_FILE_H_
#define RECSHIP_CORE_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recship {

class MappedFile {
 public:
  enum class Access { kReadOnly, kCopyOnWrite };
  // Maps all of `path`. Errors name the file.
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path,
                                                                Access access = Access::kReadOnly);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& name() const { return name_; }
  uint64_t size() const { return size_; }
  // Read-only memory unless mapped copy-on-write (see the top comment);
  // mutable because Tensor's buffer is.
  std::byte* data() const { return data_; }

  // Hints that [offset, offset + n) will be read at random from now on, so
  // the kernel reads no pages ahead around each fault.
  void AdviseRandom(uint64_t offset, uint64_t n) const;
  // True once a read past the file's end was answered with zeros (see the
  // top comment).
  bool damaged() const;

 private:
  MappedFile(std::string name, std::byte* data, uint64_t size);

  const std::string name_;
  std::byte* const data_;
  const uint64_t size_;
  const int guard_slot_;
};

// Makes SIGBUS on a mapped file's pages harmless (see MappedFile). Installed
// once per process; later calls do nothing. A SIGBUS anywhere else keeps its
// default action.
void InstallSigbusGuard();

// The names of the mapped files that became damaged (read past their end)
// since the last call, each reported once, for the owner to log: a signal
// handler cannot.
std::vector<std::string> TakeNewlyDamagedFiles();

}  // namespace recship

#endif  // RECSHIP_CORE_MAPPED_FILE_H_
