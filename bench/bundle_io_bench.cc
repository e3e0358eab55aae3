// Benchmark: writes and reads back one large float32 tensor through the tensor
// bundle (BundleWriter streamed with BeginTensor/Append/EndTensor, read back
// with a crc-checked TensorStream) and, as the baseline in the same run, the
// same bytes with plain sequential POSIX write/read of the same chunk size.
//
// Fairness: both sides fsync after writing and drop their file from the page
// cache (posix_fadvise DONTNEED) before reading, and the resident fraction is
// printed to show it worked. Every phase runs in its own forked child, so each
// side's peak RSS is the child's ru_maxrss from wait4. Rounds alternate which
// side goes first; the table shows median MB/s and the highest peak RSS.
//
// Targets: bundle/baseline >= 0.8 for writing and for reading, and
// bundle peak RSS <= baseline peak RSS + 64 MiB.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "recship/core/file.h"
#include "recship/core/status_macros.h"
#include "recship/format/tensor_bundle.h"

#ifndef RECSHIP_BENCH_TMP_DIR
#define RECSHIP_BENCH_TMP_DIR "bench-tmp"
#endif

namespace recship {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kTargetRatio = 0.8;
constexpr double kTargetExtraRssMiB = 64.0;
constexpr char kTensorName[] = "embedding/values";

struct Config {
  uint64_t size = 0;
  uint64_t chunk = 0;
  double settle_seconds = 0;
  std::string run_dir;
  std::string baseline_path;
  std::string bundle_prefix;
};

// What a phase's child reports through its pipe.
struct PhaseResult {
  double seconds = 0;
  double cached_fraction = -1;  // Of the file, just before a read; -1 for writes.
  char error[512] = {};
};

struct PhaseStats {
  PhaseResult result;
  double peak_rss_mib = 0;
  double cpu_seconds = 0;  // User + system time of the child.
};

// Parses "2G", "512M", "64k", "1048576" (binary units).
bool ParseBytes(const std::string& text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str()) return false;
  std::string unit(end);
  uint64_t scale = 1;
  if (unit == "k" || unit == "K" || unit == "KiB") {
    scale = uint64_t{1} << 10;
  } else if (unit == "m" || unit == "M" || unit == "MiB") {
    scale = uint64_t{1} << 20;
  } else if (unit == "g" || unit == "G" || unit == "GiB") {
    scale = uint64_t{1} << 30;
  } else if (!unit.empty()) {
    return false;
  }
  *out = static_cast<uint64_t>(value) * scale;
  return true;
}

// The bytes of chunk `index`: pseudo-random floats, stamped with the index so
// that the read side can check it got the right chunk in the right place.
void FillChunk(std::vector<char>* buffer, uint64_t index) {
  std::memcpy(buffer->data(), &index, std::min<size_t>(sizeof(index), buffer->size()));
}

bool ChunkStampOk(const std::vector<char>& buffer, uint64_t n, uint64_t index) {
  if (n < sizeof(index)) return true;
  uint64_t stamp;
  std::memcpy(&stamp, buffer.data(), sizeof(stamp));
  return stamp == index;
}

std::vector<char> MakeChunkBuffer(uint64_t chunk) {
  std::vector<char> buffer(chunk);
  uint32_t state = 0x9e3779b9u;
  for (size_t i = 0; i + sizeof(float) <= buffer.size(); i += sizeof(float)) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    float value = static_cast<float>(state % 20000) / 10000.0f - 1.0f;
    std::memcpy(buffer.data() + i, &value, sizeof(value));
  }
  return buffer;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return ErrnoToStatus(errno, absl::StrCat(what, " ", path));
}

// Drops `path` from the page cache (its pages are clean after the fsync) and
// returns the fraction of its pages still resident.
absl::StatusOr<double> DropFromPageCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("opening", path);
  int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  if (rc != 0) {
    ::close(fd);
    errno = rc;
    return Errno("posix_fadvise", path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Errno("stat", path);
  }
  double fraction = 0;
  if (st.st_size > 0) {
    size_t length = static_cast<size_t>(st.st_size);
    void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
      std::vector<unsigned char> resident((length + page - 1) / page);
      if (::mincore(map, length, resident.data()) == 0) {
        size_t count = 0;
        for (unsigned char r : resident) count += r & 1;
        fraction = static_cast<double>(count) / static_cast<double>(resident.size());
      }
      ::munmap(map, length);
    }
  }
  ::close(fd);
  return fraction;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---------------------------------------------------------------- phases

absl::Status WriteBaseline(const Config& config, PhaseResult* result) {
  std::vector<char> buffer = MakeChunkBuffer(config.chunk);
  auto start = std::chrono::steady_clock::now();
  int fd = ::open(config.baseline_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating", config.baseline_path);
  for (uint64_t done = 0, index = 0; done < config.size; ++index) {
    uint64_t n = std::min(config.chunk, config.size - done);
    FillChunk(&buffer, index);
    for (uint64_t written = 0; written < n;) {
      ssize_t w = ::write(fd, buffer.data() + written, n - written);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ::close(fd);
        return Errno("writing", config.baseline_path);
      }
      written += static_cast<uint64_t>(w);
    }
    done += n;
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return Errno("fsync", config.baseline_path);
  }
  if (::close(fd) != 0) return Errno("closing", config.baseline_path);
  result->seconds = SecondsSince(start);
  return absl::OkStatus();
}

absl::Status WriteBundle(const Config& config, PhaseResult* result) {
  std::vector<char> buffer = MakeChunkBuffer(config.chunk);
  const uint64_t elements = config.size / sizeof(float);
  TensorShape shape = elements % 64 == 0 ? TensorShape{static_cast<int64_t>(elements / 64), 64}
                                         : TensorShape{static_cast<int64_t>(elements)};
  auto start = std::chrono::steady_clock::now();
  RECSHIP_ASSIGN_OR_RETURN(auto writer, BundleWriter::Create(config.bundle_prefix));
  RECSHIP_RETURN_IF_ERROR(writer->BeginTensor(kTensorName, tensorflow::DT_FLOAT, shape));
  for (uint64_t done = 0, index = 0; done < config.size; ++index) {
    uint64_t n = std::min(config.chunk, config.size - done);
    FillChunk(&buffer, index);
    RECSHIP_RETURN_IF_ERROR(writer->Append(absl::string_view(buffer.data(), n)));
    done += n;
  }
  RECSHIP_RETURN_IF_ERROR(writer->EndTensor());
  RECSHIP_RETURN_IF_ERROR(writer->Finish());  // fsyncs the data shard, then writes the index.
  result->seconds = SecondsSince(start);
  return absl::OkStatus();
}

absl::Status ReadBaseline(const Config& config, PhaseResult* result) {
  std::vector<char> buffer(config.chunk);
  RECSHIP_ASSIGN_OR_RETURN(result->cached_fraction, DropFromPageCache(config.baseline_path));
  auto start = std::chrono::steady_clock::now();
  int fd = ::open(config.baseline_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("opening", config.baseline_path);
  for (uint64_t done = 0, index = 0; done < config.size; ++index) {
    uint64_t n = std::min(config.chunk, config.size - done);
    for (uint64_t got = 0; got < n;) {
      ssize_t r = ::read(fd, buffer.data() + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        ::close(fd);
        return r == 0 ? absl::DataLossError(absl::StrCat(config.baseline_path, " is short"))
                      : Errno("reading", config.baseline_path);
      }
      got += static_cast<uint64_t>(r);
    }
    if (!ChunkStampOk(buffer, n, index)) {
      ::close(fd);
      return absl::DataLossError(absl::StrCat(config.baseline_path, ": chunk ", index, " wrong"));
    }
    done += n;
  }
  ::close(fd);
  result->seconds = SecondsSince(start);
  return absl::OkStatus();
}

absl::Status ReadBundle(const Config& config, PhaseResult* result) {
  std::vector<char> buffer(config.chunk);
  RECSHIP_ASSIGN_OR_RETURN(result->cached_fraction,
                           DropFromPageCache(BundleDataPath(config.bundle_prefix, 0, 1)));
  auto start = std::chrono::steady_clock::now();
  RECSHIP_ASSIGN_OR_RETURN(auto reader, BundleReader::Open(config.bundle_prefix));
  RECSHIP_ASSIGN_OR_RETURN(TensorStream stream, reader->OpenStream(kTensorName));
  if (stream.remaining_bytes() != config.size) {
    return absl::DataLossError(absl::StrCat("tensor has ", stream.remaining_bytes(), " bytes"));
  }
  for (uint64_t done = 0, index = 0; done < config.size; ++index) {
    uint64_t n = std::min(config.chunk, config.size - done);
    RECSHIP_RETURN_IF_ERROR(stream.Read(n, buffer.data()));  // The last read checks the crc32c.
    if (!ChunkStampOk(buffer, n, index)) {
      return absl::DataLossError(absl::StrCat(config.bundle_prefix, ": chunk ", index, " wrong"));
    }
    done += n;
  }
  result->seconds = SecondsSince(start);
  return absl::OkStatus();
}

using PhaseFn = absl::Status (*)(const Config&, PhaseResult*);

// Runs `phase` in a forked child; the child's peak RSS comes from wait4.
absl::StatusOr<PhaseStats> RunInChild(const char* name, PhaseFn phase, const Config& config) {
  int fds[2];
  if (::pipe(fds) != 0) return ErrnoToStatus(errno, "pipe");
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    ::close(fds[0]);
    PhaseResult result;
    absl::Status status = phase(config, &result);
    if (!status.ok()) {
      std::snprintf(result.error, sizeof(result.error), "%s", status.ToString().c_str());
    }
    ssize_t ignored = ::write(fds[1], &result, sizeof(result));
    (void)ignored;
    ::_exit(status.ok() ? 0 : 1);
  }
  ::close(fds[1]);
  PhaseStats stats;
  size_t got = 0;
  while (got < sizeof(stats.result)) {
    ssize_t r =
        ::read(fds[0], reinterpret_cast<char*>(&stats.result) + got, sizeof(stats.result) - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fds[0]);
  int wstatus = 0;
  struct rusage usage;
  while (::wait4(pid, &wstatus, 0, &usage) < 0) {
    if (errno != EINTR) return ErrnoToStatus(errno, "wait4");
  }
  if (got != sizeof(stats.result) || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::InternalError(absl::StrCat(
        name, " failed: ", stats.result.error[0] != '\0' ? stats.result.error : "child died"));
  }
  stats.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB.
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  stats.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  return stats;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Max(const std::vector<double>& values) {
  return *std::max_element(values.begin(), values.end());
}

struct Series {
  std::vector<double> mbps;
  std::vector<double> cpu;
  std::vector<double> rss;
  std::vector<double> cached;
};

int Run(const Config& config, int rounds) {
  // Both files exist at once during a round; check there is room for them.
  struct statvfs fs;
  if (::statvfs(config.run_dir.c_str(), &fs) == 0) {
    uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (free_bytes < 2 * config.size + (uint64_t{256} << 20)) {
      std::fprintf(stderr, "bundle_io_bench: %s has %.0f MiB free; the run needs %.0f MiB\n",
                   config.run_dir.c_str(), static_cast<double>(free_bytes) / kMiB,
                   static_cast<double>(2 * config.size) / kMiB + 256);
      return 1;
    }
  }
  struct Phase {
    const char* name;
    PhaseFn fn;
    Series* series;
  };
  Series baseline_write, bundle_write, baseline_read, bundle_read;
  for (int round = 0; round < rounds; ++round) {
    // Alternate which side goes first, so neither always gets the cooler disk.
    std::vector<Phase> order = {{"baseline write", WriteBaseline, &baseline_write},
                                {"bundle write", WriteBundle, &bundle_write},
                                {"baseline read", ReadBaseline, &baseline_read},
                                {"bundle read", ReadBundle, &bundle_read}};
    if (round % 2 == 1) {
      std::swap(order[0], order[1]);
      std::swap(order[2], order[3]);
    }
    std::printf("round %d/%d:", round + 1, rounds);
    for (const Phase& phase : order) {
      // Let the disk (and a virtual disk's host) finish the previous phase's
      // writeback, so it does not slow down whichever side comes next.
      ::sync();
      std::this_thread::sleep_for(std::chrono::duration<double>(config.settle_seconds));
      auto stats = RunInChild(phase.name, phase.fn, config);
      if (!stats.ok()) {
        std::printf("\n");
        std::fprintf(stderr, "bundle_io_bench: %s\n", stats.status().ToString().c_str());
        return 1;
      }
      double mbps = static_cast<double>(config.size) / 1e6 / stats->result.seconds;
      phase.series->mbps.push_back(mbps);
      phase.series->rss.push_back(stats->peak_rss_mib);
      phase.series->cpu.push_back(stats->cpu_seconds);
      phase.series->cached.push_back(stats->result.cached_fraction);
      std::printf("  %s %.0f MB/s", phase.name, mbps);
      std::fflush(stdout);
    }
    std::printf("\n");
    std::error_code ec;
    std::filesystem::remove(config.baseline_path, ec);
    std::filesystem::remove(BundleIndexPath(config.bundle_prefix), ec);
    std::filesystem::remove(BundleDataPath(config.bundle_prefix, 0, 1), ec);
  }

  const double write_ratio = Median(bundle_write.mbps) / Median(baseline_write.mbps);
  const double read_ratio = Median(bundle_read.mbps) / Median(baseline_read.mbps);
  const double baseline_rss = std::max(Max(baseline_write.rss), Max(baseline_read.rss));
  const double bundle_rss = std::max(Max(bundle_write.rss), Max(bundle_read.rss));
  const bool write_ok = write_ratio >= kTargetRatio;
  const bool read_ok = read_ratio >= kTargetRatio;
  const bool rss_ok = bundle_rss <= baseline_rss + kTargetExtraRssMiB;

  std::printf("\nbundle_io_bench: float32 tensor of %.2f GiB, chunks of %.2f MiB, in %s\n",
              static_cast<double>(config.size) / kMiB / 1024,
              static_cast<double>(config.chunk) / kMiB, config.run_dir.c_str());
  std::printf(
      "MB/s: median of %d round(s), sides alternating first; MB/s = 10^6 bytes per second; "
      "writes include fsync. CPU: median user + system seconds. Peak RSS: the highest of any "
      "round.\n\n",
      rounds);
  std::printf("%-8s %14s %14s %10s %10s %s\n", "phase", "baseline MB/s", "bundle MB/s", "ratio",
              "target", "");
  std::printf("%-8s %14.0f %14.0f %10.3f %10s %s\n", "write", Median(baseline_write.mbps),
              Median(bundle_write.mbps), write_ratio, ">= 0.80", write_ok ? "ok" : "MISSED");
  std::printf("%-8s %14.0f %14.0f %10.3f %10s %s\n\n", "read", Median(baseline_read.mbps),
              Median(bundle_read.mbps), read_ratio, ">= 0.80", read_ok ? "ok" : "MISSED");
  // CPU time does not depend on how busy the disk is, so it shows the
  // bundle's own cost (crc32c, buffering) even when MB/s are noisy.
  std::printf("%-8s %14s %14s %10s\n", "CPU", "baseline s", "bundle s", "extra");
  std::printf("%-8s %14.2f %14.2f %+10.2f\n", "write", Median(baseline_write.cpu),
              Median(bundle_write.cpu), Median(bundle_write.cpu) - Median(baseline_write.cpu));
  std::printf("%-8s %14.2f %14.2f %+10.2f\n\n", "read", Median(baseline_read.cpu),
              Median(bundle_read.cpu), Median(bundle_read.cpu) - Median(baseline_read.cpu));
  std::printf("%-8s %14s %14s %10s %10s\n", "peak RSS", "baseline MiB", "bundle MiB", "extra",
              "target");
  std::printf("%-8s %14.1f %14.1f %+10.1f\n", "write", Max(baseline_write.rss),
              Max(bundle_write.rss), Max(bundle_write.rss) - Max(baseline_write.rss));
  std::printf("%-8s %14.1f %14.1f %+10.1f\n", "read", Max(baseline_read.rss), Max(bundle_read.rss),
              Max(bundle_read.rss) - Max(baseline_read.rss));
  std::printf("%-8s %14.1f %14.1f %+10.1f %10s %s\n\n", "max", baseline_rss, bundle_rss,
              bundle_rss - baseline_rss, "<= +64", rss_ok ? "ok" : "MISSED");
  std::printf(
      "page cache resident before reads (after fsync + DONTNEED): baseline %.1f%%, "
      "bundle %.1f%%\n",
      100 * Median(baseline_read.cached), 100 * Median(bundle_read.cached));
  return 0;
}

}  // namespace
}  // namespace recship

int main(int argc, char** argv) {
  CLI::App app{
      "Writes and reads back a float32 tensor through the tensor bundle and, as the baseline, "
      "with plain sequential POSIX I/O; prints MB/s, ratios and peak RSS."};
  std::string size_text = "2G";
  std::string chunk_text = "4M";
  std::string dir = RECSHIP_BENCH_TMP_DIR;
  int rounds = 4;
  recship::Config config;
  config.settle_seconds = 2;
  app.add_option("--size", size_text, "Tensor bytes (k/M/G suffixes, binary)")
      ->capture_default_str();
  app.add_option("--chunk", chunk_text, "Bytes per write/read call on both sides")
      ->capture_default_str();
  app.add_option("--dir", dir, "Scratch folder for the files (deleted afterwards)")
      ->capture_default_str();
  app.add_option("--settle", config.settle_seconds,
                 "Seconds to wait (after sync) before each phase, so writeback of the one before "
                 "does not slow it down")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--rounds", rounds, "Rounds; the table shows medians")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);

  if (!recship::ParseBytes(size_text, &config.size) ||
      !recship::ParseBytes(chunk_text, &config.chunk) || config.chunk == 0) {
    std::fprintf(stderr, "bundle_io_bench: bad --size or --chunk\n");
    return 2;
  }
  config.size -= config.size % sizeof(float);
  if (config.size == 0) {
    std::fprintf(stderr, "bundle_io_bench: --size must be at least 4 bytes\n");
    return 2;
  }
  config.run_dir = dir + "/bundle_io_bench-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::create_directories(config.run_dir, ec);
  if (ec) {
    std::fprintf(stderr, "bundle_io_bench: cannot create %s: %s\n", config.run_dir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  config.baseline_path = config.run_dir + "/baseline.bin";
  config.bundle_prefix = config.run_dir + "/bundle";
  int rc = recship::Run(config, rounds);
  std::filesystem::remove_all(config.run_dir, ec);
  return rc;
}
