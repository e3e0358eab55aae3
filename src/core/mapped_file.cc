#include "recship/core/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace recship {
namespace {

// The mappings the SIGBUS guard knows about. A signal handler may only touch
// lock-free state, so this is a fixed array of atomics: a slot is taken by
// compare-and-swap of its `begin` from 0.
struct GuardSlot {
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<bool> damaged{false};
  std::atomic<bool> reported{false};
};
constexpr size_t kGuardSlots = 4096;
std::array<GuardSlot, kGuardSlots> guard_slots;
// The file name of each taken slot, for TakeNewlyDamagedFiles (never read by
// the signal handler).
std::mutex names_mu;
std::array<std::string, kGuardSlots> guard_names;
struct sigaction previous_sigbus_action;

int RegisterMapping(const std::string& name, const std::byte* data, uint64_t size) {
  auto begin = reinterpret_cast<uintptr_t>(data);
  for (size_t i = 0; i < kGuardSlots; ++i) {
    uintptr_t expected = 0;
    if (guard_slots[i].begin.compare_exchange_strong(expected, begin)) {
      {
        std::lock_guard<std::mutex> lock(names_mu);
        guard_names[i] = name;
      }
      guard_slots[i].damaged.store(false);
      guard_slots[i].reported.store(false);
      guard_slots[i].end.store(begin + size);
      return static_cast<int>(i);
    }
  }
  return -1;  // Unguarded: only the SIGBUS default applies.
}

void UnregisterMapping(int slot) {
  if (slot < 0) return;
  guard_slots[static_cast<size_t>(slot)].end.store(0);
  guard_slots[static_cast<size_t>(slot)].begin.store(0);
}

// Replaces the page holding `addr` in a guarded mapping by a zero page, so
// the faulting read is retried and succeeds. Async-signal-safe: atomics and
// the mmap system call only.
void OnSigbus(int signo, siginfo_t* info, void* context) {
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (GuardSlot& slot : guard_slots) {
    uintptr_t begin = slot.begin.load();
    if (begin == 0 || addr < begin || addr >= slot.end.load()) continue;
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    void* start = reinterpret_cast<void*>(addr & ~(page - 1));
    if (mmap(start, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
        MAP_FAILED) {
      slot.damaged.store(true);
      return;
    }
    break;
  }
  // Not ours: behave as if the guard were not there.
  if (previous_sigbus_action.sa_flags & SA_SIGINFO) {
    if (previous_sigbus_action.sa_sigaction != nullptr) {
      previous_sigbus_action.sa_sigaction(signo, info, context);
      return;
    }
  } else if (previous_sigbus_action.sa_handler != SIG_DFL &&
             previous_sigbus_action.sa_handler != SIG_IGN) {
    previous_sigbus_action.sa_handler(signo);
    return;
  }
  signal(SIGBUS, SIG_DFL);  // The retried access now takes the default action.
}

}  // namespace

void InstallSigbusGuard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = OnSigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previous_sigbus_action);
  });
}

MappedFile::MappedFile(std::string name, std::byte* data, uint64_t size)
    : name_(std::move(name)),
      data_(data),
      size_(size),
      guard_slot_(data != nullptr ? RegisterMapping(name_, data, size) : -1) {}

MappedFile::~MappedFile() {
  UnregisterMapping(guard_slot_);
  if (data_ != nullptr) munmap(data_, size_);
}

absl::StatusOr<std::shared_ptr<const MappedFile>> MappedFile::Open(const std::string& path,
                                                                   Access access) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open for mapping: ", strerror(errno)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat(path, ": cannot stat: ", strerror(err)));
  }
  auto size = static_cast<uint64_t>(st.st_size);
  void* data = nullptr;
  if (size > 0) {
    const bool writable = access == Access::kCopyOnWrite;
    data = mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                writable ? MAP_PRIVATE | MAP_NORESERVE : MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      int err = errno;
      close(fd);
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": cannot map ", size, " bytes: ", strerror(err)));
    }
  }
  close(fd);  // The mapping keeps the file open.
  return std::shared_ptr<const MappedFile>(
      new MappedFile(path, static_cast<std::byte*>(data), size));
}

void MappedFile::AdviseRandom(uint64_t offset, uint64_t n) const {
  if (data_ == nullptr || n == 0) return;
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t start = offset & ~(page - 1);
  madvise(data_ + start, offset + n - start, MADV_RANDOM);
}

std::vector<std::string> TakeNewlyDamagedFiles() {
  std::vector<std::string> names;
  std::lock_guard<std::mutex> lock(names_mu);
  for (size_t i = 0; i < kGuardSlots; ++i) {
    GuardSlot& slot = guard_slots[i];
    if (slot.begin.load() != 0 && slot.damaged.load() && !slot.reported.exchange(true)) {
      names.push_back(guard_names[i]);
    }
  }
  return names;
}

bool MappedFile::damaged() const {
  return guard_slot_ >= 0 && guard_slots[static_cast<size_t>(guard_slot_)].damaged.load();
}

}  // namespace recship
