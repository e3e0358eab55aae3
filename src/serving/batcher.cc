#include "recship/serving/batcher.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "recship/serving/serving_metrics.h"
#include "src/serving/batch_merge.h"

namespace recship {
namespace {

// Requests that may share a batch have the same key: the model version
// (its address), the signature, the input names and the output filter.
std::string BatchKey(const SavedModelBundle& model,
                     const tensorflow::serving::PredictRequest& request) {
  std::vector<std::string> inputs;
  for (const auto& [name, tensor] : request.inputs()) inputs.push_back(name);
  std::sort(inputs.begin(), inputs.end());
  return absl::StrCat(reinterpret_cast<uintptr_t>(&model), "\n",
                      request.model_spec().signature_name(), "\n", absl::StrJoin(inputs, ","), "\n",
                      absl::StrJoin(request.output_filter(), ","));
}

}  // namespace

absl::Status Batcher::Predict(const SavedModelBundle& model,
                              const tensorflow::serving::PredictRequest& request,
                              absl::Time deadline, tensorflow::serving::PredictResponse* response) {
  const std::optional<int64_t> rows = BatchRows(request);
  if (!rows || *rows == 0 || *rows >= options_.max_batch_size) {
    return RunPredict(model, request, limits_, response, deadline);
  }
  Task task{&request, response, *rows, deadline};
  const std::string key = BatchKey(model, request);
  mu_.Lock();
  std::shared_ptr<Batch>& open = open_[key];
  if (open == nullptr || open->closed || open->rows + task.rows > options_.max_batch_size) {
    if (open != nullptr) Close(*open);  // Full for this request: it runs as it is.
    if (waiting_ >= options_.max_enqueued_batches) {
      if (open == nullptr) open_.erase(key);
      mu_.Unlock();
      return absl::UnavailableError(
          absl::StrCat("The batch scheduling queue to which this task was submitted is full (",
                       options_.max_enqueued_batches,
                       " batches waiting; --batching_parameters_file "
                       "max_enqueued_batches)"));
    }
    ++waiting_;
    open = std::make_shared<Batch>();
    open->tasks.push_back(&task);
    open->rows = task.rows;
    Lead(model, open, key);  // Unlocks mu_.
    return task.status;
  }
  open->tasks.push_back(&task);
  open->rows += task.rows;
  if (open->rows >= options_.max_batch_size) Close(*open);
  mu_.Unlock();
  // Each request waits on its own: no condition for mu_ to evaluate.
  task.done.WaitForNotification();
  return task.status;
}

void Batcher::Close(Batch& batch) {
  batch.closed = true;
  batch.filled.Signal();
}

void Batcher::Lead(const SavedModelBundle& model, std::shared_ptr<Batch> batch,
                   const std::string& key) {
  // Wait for the batch to fill, at most the timeout, then for a turn to
  // run; requests join until it is full or its turn comes.
  const absl::Time fill_until = absl::Now() + options_.batch_timeout;
  while (!batch->closed && !batch->filled.WaitWithDeadline(&mu_, fill_until)) {
  }
  const int threads = options_.num_batch_threads > 0
                          ? options_.num_batch_threads
                          : static_cast<int>(std::thread::hardware_concurrency());
  while (running_ >= threads) turn_.Wait(&mu_);
  batch->closed = true;
  auto open = open_.find(key);
  if (open != open_.end() && open->second == batch) open_.erase(open);
  --waiting_;
  ++running_;
  mu_.Unlock();
  Run(model, *batch);
  {
    absl::MutexLock lock(&mu_);
    --running_;
  }
  turn_.Signal();
  // The batch is closed: its tasks are all there. The leader's own is not
  // waited on.
  for (size_t i = 1; i < batch->tasks.size(); ++i) batch->tasks[i]->done.Notify();
}

void Batcher::Run(const SavedModelBundle& model, Batch& batch) {
  RecordBatch(batch.tasks.front()->request->model_spec().name(),
              static_cast<int64_t>(batch.tasks.size()), batch.rows);
  if (batch.tasks.size() == 1) {
    Task& task = *batch.tasks.front();
    task.status = RunPredict(model, *task.request, limits_, task.response, task.deadline);
    return;
  }
  std::vector<const tensorflow::serving::PredictRequest*> requests;
  std::vector<tensorflow::serving::PredictResponse*> responses;
  std::vector<int64_t> rows;
  absl::Time deadline = absl::InfiniteFuture();
  for (Task* task : batch.tasks) {
    requests.push_back(task->request);
    responses.push_back(task->response);
    rows.push_back(task->rows);
    deadline = std::min(deadline, task->deadline);
  }
  absl::StatusOr<tensorflow::serving::PredictRequest> merged = MergeRequests(requests);
  absl::Status status = merged.status();
  tensorflow::serving::PredictResponse answer;
  if (status.ok()) status = RunPredict(model, *merged, limits_, &answer, deadline);
  if (status.ok()) status = SplitResponse(answer, rows, responses);
  if (status.ok()) return;
  // A merged run that failed says nothing of each request: run each alone,
  // so a bad request fails only itself, with its own error.
  for (Task* task : batch.tasks) {
    task->response->Clear();
    task->status = RunPredict(model, *task->request, limits_, task->response, task->deadline);
  }
}

}  // namespace recship
