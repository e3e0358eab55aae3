// Request batching, as TensorFlow Serving's --enable_batching: concurrent
// Predict requests to the same model version, signature, inputs and outputs
// are merged (batch_merge.h) into one session run of at most max_batch_size
// rows. The first request of a batch runs it on its own thread, so a batch
// costs no hand-off to a batching thread: it waits at most batch_timeout for
// more requests to join, then for one of num_batch_threads turns to run,
// taking requests until its turn comes (so under load batches form even
// with no timeout). Past max_enqueued_batches waiting, a request is refused
// (UNAVAILABLE). A request that cannot be merged (a scalar input, more rows
// than a batch holds) runs alone. Thread-safe.
#ifndef RECSHIP_SERVING_BATCHER_H_
#define RECSHIP_SERVING_BATCHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "recship/serving/batching.h"
#include "recship/serving/predict.h"

namespace recship {

class Batcher {
 public:
  Batcher(BatchingOptions options, PredictLimits limits)
      : options_(std::move(options)), limits_(std::move(limits)) {}

  // Runs `request` on `model`, in a batch with others when it can.
  absl::Status Predict(const SavedModelBundle& model,
                       const tensorflow::serving::PredictRequest& request, absl::Time deadline,
                       tensorflow::serving::PredictResponse* response);

 private:
  struct Task {
    const tensorflow::serving::PredictRequest* request;
    tensorflow::serving::PredictResponse* response;
    int64_t rows;
    absl::Time deadline;
    absl::Status status;
    absl::Notification done;  // Set by the batch's leader.
  };
  struct Batch {
    std::vector<Task*> tasks;
    int64_t rows = 0;
    bool closed = false;   // Full, or its leader stopped waiting: no one joins.
    absl::CondVar filled;  // Signalled when it closes.
  };

  void Close(Batch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Waits (as the batch's leader) for it to fill or time out, then runs it;
  // releases mu_.
  void Lead(const SavedModelBundle& model, std::shared_ptr<Batch> batch, const std::string& key)
      ABSL_UNLOCK_FUNCTION(mu_);
  void Run(const SavedModelBundle& model, Batch& batch);

  const BatchingOptions options_;
  const PredictLimits limits_;
  absl::Mutex mu_;
  // The batch still taking requests, per model version, signature, inputs
  // and outputs.
  std::map<std::string, std::shared_ptr<Batch>> open_ ABSL_GUARDED_BY(mu_);
  int64_t waiting_ ABSL_GUARDED_BY(mu_) = 0;  // Batches not yet running.
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar turn_;  // Signalled when a batch finishes running.
};

}  // namespace recship

#endif  // RECSHIP_SERVING_BATCHER_H_
