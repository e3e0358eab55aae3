#include "recship/serving/metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace recship {
namespace {

// Prometheus' names: TensorFlow's '/' become ':'.
std::string ExportedName(const std::string& name) {
  return absl::StrReplaceAll(name, {{"/", ":"}});
}

std::string Escaped(const std::string& value) {
  return absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

// {a="x",b="y"} (with `extra` last), or nothing without labels.
std::string LabelText(const Metrics::Labels& names, const Metrics::Labels& values,
                      const std::string& extra = "") {
  std::vector<std::string> parts;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    parts.push_back(absl::StrCat(names[i], "=\"", Escaped(values[i]), "\""));
  }
  if (!extra.empty()) parts.push_back(extra);
  if (parts.empty()) return "";
  std::string text = "{";
  for (size_t i = 0; i < parts.size(); ++i) absl::StrAppend(&text, i ? "," : "", parts[i]);
  return text + "}";
}

std::string Number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  return absl::StrCat(value);
}

}  // namespace

void Metrics::Counter::Add(const Labels& labels, double amount) {
  absl::MutexLock lock(&mu_);
  values_[labels] += amount;
}

void Metrics::Histogram::Observe(const Labels& labels, double value) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  absl::MutexLock lock(&mu_);
  Cell& cell = cells_[labels];
  if (cell.counts.empty()) cell.counts.resize(bounds_.size() + 1);
  ++cell.counts[bucket];
  cell.sum += value;
}

Metrics& Metrics::Global() {
  static Metrics* metrics = new Metrics;
  return *metrics;
}

Metrics::Counter* Metrics::AddCounter(const std::string& name, const std::string& help,
                                      Labels label_names) {
  absl::MutexLock lock(&mu_);
  Family& family = families_[name];
  if (family.counter == nullptr) {
    family.help = help;
    family.label_names = std::move(label_names);
    family.counter.reset(new Counter);
  }
  return family.counter.get();
}

Metrics::Histogram* Metrics::AddHistogram(const std::string& name, const std::string& help,
                                          Labels label_names, std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  Family& family = families_[name];
  if (family.histogram == nullptr) {
    family.help = help;
    family.label_names = std::move(label_names);
    family.histogram.reset(new Histogram(std::move(bounds)));
  }
  return family.histogram.get();
}

int Metrics::AddGauge(const std::string& name, const std::string& help, Labels label_names,
                      GaugeReader read) {
  absl::MutexLock lock(&mu_);
  Family& family = families_[name];
  family.help = help;
  family.label_names = std::move(label_names);
  const int id = next_gauge_++;
  family.gauges[id] = std::move(read);
  return id;
}

void Metrics::RemoveGauge(int id) {
  absl::MutexLock lock(&mu_);
  for (auto& [name, family] : families_) family.gauges.erase(id);
}

void Metrics::Render(const std::string& name, const Family& family, std::string& out) const {
  const std::string exported = ExportedName(name);
  const char* type = family.counter ? "counter" : family.histogram ? "histogram" : "gauge";
  absl::StrAppend(&out, "# HELP ", exported, " ", family.help, "\n# TYPE ", exported, " ", type,
                  "\n");
  if (family.counter != nullptr) {
    absl::MutexLock lock(&family.counter->mu_);
    for (const auto& [labels, value] : family.counter->values_) {
      absl::StrAppend(&out, exported, LabelText(family.label_names, labels), " ", Number(value),
                      "\n");
    }
  } else if (family.histogram != nullptr) {
    const Histogram& h = *family.histogram;
    absl::MutexLock lock(&family.histogram->mu_);
    for (const auto& [labels, cell] : h.cells_) {
      uint64_t cumulative = 0;
      for (size_t b = 0; b <= h.bounds_.size(); ++b) {
        cumulative += cell.counts[b];
        const double bound = b < h.bounds_.size() ? h.bounds_[b] : INFINITY;
        absl::StrAppend(
            &out, exported, "_bucket",
            LabelText(family.label_names, labels, absl::StrCat("le=\"", Number(bound), "\"")), " ",
            cumulative, "\n");
      }
      const std::string text = LabelText(family.label_names, labels);
      absl::StrAppend(&out, exported, "_sum", text, " ", Number(cell.sum), "\n", exported, "_count",
                      text, " ", cumulative, "\n");
    }
  }
  for (const auto& [id, read] : family.gauges) {
    for (const auto& [labels, value] : read()) {
      absl::StrAppend(&out, exported, LabelText(family.label_names, labels), " ", Number(value),
                      "\n");
    }
  }
}

std::string Metrics::RenderPrometheus() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, family] : families_) Render(name, family, out);
  return out;
}

std::vector<double> ExponentialBuckets(double scale, double growth, int count) {
  std::vector<double> bounds;
  double bound = scale;
  for (int i = 0; i < count; ++i, bound *= growth) bounds.push_back(bound);
  return bounds;
}

}  // namespace recship
