// ExportProgressBar: the one-line progress bar of `recship export` on
// stderr, redrawn in place with \r at most 10 times a second and cleared at
// the end:
//
//   export ps_1  [##########----------]  47%  612/1297 MiB  1.1 GiB/s
//
// It draws only when enabled (the caller checks that stderr is a terminal),
// so logs and tests never see it. FormatBytes is shared with the command's
// per-sub-model lines.
#ifndef RECSHIP_CLI_EXPORT_PROGRESS_BAR_H_
#define RECSHIP_CLI_EXPORT_PROGRESS_BAR_H_

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "recship/export/export_progress.h"

namespace recship {

// "812 B", "3.4 KiB", "12.3 MiB", "1.27 GiB".
inline std::string FormatBytes(double bytes) {
  if (bytes < 1024) return absl::StrFormat("%.0f B", bytes);
  if (bytes < 1024.0 * 1024) return absl::StrFormat("%.1f KiB", bytes / 1024);
  if (bytes < 1024.0 * 1024 * 1024) return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024));
  return absl::StrFormat("%.2f GiB", bytes / (1024.0 * 1024 * 1024));
}

class ExportProgressBar {
 public:
  explicit ExportProgressBar(bool enabled) : enabled_(enabled) {}
  ~ExportProgressBar() { Clear(); }
  ExportProgressBar(const ExportProgressBar&) = delete;
  ExportProgressBar& operator=(const ExportProgressBar&) = delete;

  void Update(const ExportProgress& p) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (!started_) {
      started_ = true;
      start_ = now;
    } else if (now - last_draw_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_draw_ = now;
    Draw(p, std::chrono::duration<double>(now - start_).count());
  }

  // Erases the bar, if drawn, so that what follows starts on a clean line.
  void Clear() {
    if (!drawn_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }

 private:
  void Draw(const ExportProgress& p, double seconds) {
    double fraction = p.total_bytes > 0
                          ? static_cast<double>(p.bytes) / static_cast<double>(p.total_bytes)
                          : static_cast<double>(p.sub_model_index) / p.num_sub_models;
    fraction = std::clamp(fraction, 0.0, 1.0);
    constexpr double kMiB = 1024.0 * 1024;
    const char* verb = p.event == ExportProgress::Event::kRewritingTables ? "rewrite" : "export";
    std::string head =
        p.sub_model.is_standalone() ? verb : absl::StrCat(verb, " ", p.sub_model.name());
    std::string tail = absl::StrFormat("  %3.0f%%  %.0f/%.0f MiB", 100 * fraction, p.bytes / kMiB,
                                       p.total_bytes / kMiB);
    if (seconds > 0.2) absl::StrAppend(&tail, "  ", FormatBytes(p.bytes / seconds), "/s");
    // Fit the terminal: a line that wraps cannot be redrawn with \r.
    winsize size = {};
    int columns =
        ::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : 80;
    int width = std::min(30, columns - 1 - static_cast<int>(head.size() + tail.size()) - 4);
    std::string line = head;
    if (width >= 5) {
      int done = static_cast<int>(fraction * width);
      absl::StrAppend(&line, "  [", std::string(done, '#'), std::string(width - done, '-'), "]");
    }
    absl::StrAppend(&line, tail);
    line.resize(std::min<size_t>(line.size(), static_cast<size_t>(std::max(columns - 1, 0))));
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

  bool enabled_;
  bool started_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace recship

#endif  // RECSHIP_CLI_EXPORT_PROGRESS_BAR_H_
