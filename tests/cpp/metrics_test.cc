// serving/metrics.h: Prometheus' text format, as its exposition format
// specifies it (escaping, cumulative buckets, _sum and _count), from many
// threads at once.
#include "recship/serving/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"

namespace recship {
namespace {

TEST(MetricsTest, CountersRenderWithEscapedLabels) {
  Metrics metrics;
  Metrics::Counter* counter =
      metrics.AddCounter("/test/requests", "Requests.", {"model_name", "status"});
  EXPECT_EQ(metrics.AddCounter("/test/requests", "Other help.", {"x"}), counter);
  counter->Add({"a\"b\\c\nd", "OK"});
  counter->Add({"a\"b\\c\nd", "OK"}, 2.5);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_TRUE(absl::StrContains(text,
                                "# HELP :test:requests Requests.\n"
                                "# TYPE :test:requests counter\n"
                                ":test:requests{model_name=\"a\\\"b\\\\c\\nd\",status=\"OK\"} "
                                "3.5\n"))
      << text;
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Metrics metrics;
  Metrics::Histogram* h = metrics.AddHistogram("/test/latency", "Latency.", {"api"}, {1, 10});
  for (double v : {0.5, 1.0, 5.0, 50.0}) h->Observe({"predict"}, v);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_TRUE(absl::StrContains(text,
                                "# TYPE :test:latency histogram\n"
                                ":test:latency_bucket{api=\"predict\",le=\"1\"} 2\n"
                                ":test:latency_bucket{api=\"predict\",le=\"10\"} 3\n"
                                ":test:latency_bucket{api=\"predict\",le=\"+Inf\"} 4\n"
                                ":test:latency_sum{api=\"predict\"} 56.5\n"
                                ":test:latency_count{api=\"predict\"} 4\n"))
      << text;
}

TEST(MetricsTest, GaugesAreReadAtEachScrapeUntilRemoved) {
  Metrics metrics;
  double rows = 7;
  int id = metrics.AddGauge("/test/rows", "Rows.", {"table"}, [&rows] {
    return std::vector<std::pair<Metrics::Labels, double>>{{{"user_id"}, rows}};
  });
  EXPECT_TRUE(absl::StrContains(metrics.RenderPrometheus(), ":test:rows{table=\"user_id\"} 7\n"));
  rows = 9;
  EXPECT_TRUE(absl::StrContains(metrics.RenderPrometheus(), ":test:rows{table=\"user_id\"} 9\n"));
  metrics.RemoveGauge(id);
  EXPECT_FALSE(absl::StrContains(metrics.RenderPrometheus(), ":test:rows{"));
}

TEST(MetricsTest, RecordingFromManyThreadsLosesNothing) {
  Metrics metrics;
  Metrics::Counter* counter = metrics.AddCounter("/test/n", "N.", {});
  Metrics::Histogram* h = metrics.AddHistogram("/test/h", "H.", {}, ExponentialBuckets(1, 2, 4));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        counter->Add({});
        h->Observe({}, i % 20);
        if (i % 100 == 0) metrics.RenderPrometheus();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::string text = metrics.RenderPrometheus();
  EXPECT_TRUE(absl::StrContains(text, ":test:n 4000\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, ":test:h_count 4000\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, ":test:h_bucket{le=\"8\"} 1800\n")) << text;
}

}  // namespace
}  // namespace recship
