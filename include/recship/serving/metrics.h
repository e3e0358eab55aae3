// Counters and histograms with labels, and gauges read when scraped,
// rendered in Prometheus' text format (0.0.4) the way TensorFlow Serving's
// exporter renders TensorFlow's monitoring metrics: a metric named
// "/tensorflow/serving/request_count" is exported as
// ":tensorflow:serving:request_count". One set per process (Global()), as
// TensorFlow's. Thread-safe; recording takes one metric's mutex.
#ifndef RECSHIP_SERVING_METRICS_H_
#define RECSHIP_SERVING_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace recship {

class Metrics {
 public:
  using Labels = std::vector<std::string>;

  class Counter {
   public:
    void Add(const Labels& labels, double amount = 1);

   private:
    friend class Metrics;
    absl::Mutex mu_;
    std::map<Labels, double> values_ ABSL_GUARDED_BY(mu_);
  };

  class Histogram {
   public:
    void Observe(const Labels& labels, double value);

   private:
    friend class Metrics;
    explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {}
    struct Cell {
      std::vector<uint64_t> counts;  // One per bound, then +Inf; not cumulative.
      double sum = 0;
    };
    const std::vector<double> bounds_;
    absl::Mutex mu_;
    std::map<Labels, Cell> cells_ ABSL_GUARDED_BY(mu_);
  };

  // Samples of a gauge family, read at each scrape.
  using GaugeReader = std::function<std::vector<std::pair<Labels, double>>()>;

  static Metrics& Global();

  // The metric of that name, made on first use (later calls return it).
  Counter* AddCounter(const std::string& name, const std::string& help, Labels label_names);
  Histogram* AddHistogram(const std::string& name, const std::string& help, Labels label_names,
                          std::vector<double> bounds);
  // Adds a gauge family; RemoveGauge(id) takes it away (its owner is gone).
  int AddGauge(const std::string& name, const std::string& help, Labels label_names,
               GaugeReader read);
  void RemoveGauge(int id);

  // Every metric, in Prometheus' text format, sorted by name.
  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    Labels label_names;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Histogram> histogram;
    std::map<int, GaugeReader> gauges;  // By id.
  };
  void Render(const std::string& name, const Family& family, std::string& out) const;

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  int next_gauge_ ABSL_GUARDED_BY(mu_) = 0;
};

// TensorFlow's Buckets::Exponential(scale, growth, count): count bounds,
// scale * growth^i.
std::vector<double> ExponentialBuckets(double scale, double growth, int count);

}  // namespace recship

#endif  // RECSHIP_SERVING_METRICS_H_
