#include "recship/core/thread_pool.h"

#include <algorithm>

#define EIGEN_USE_THREADS
#include "unsupported/Eigen/CXX11/Tensor"

namespace recship {

struct ThreadPool::Impl {
  explicit Impl(int n) : pool(n) {}
  Eigen::ThreadPool pool;
};

ThreadPool::ThreadPool(int num_threads)
    : impl_(std::make_unique<Impl>(std::max(1, num_threads))),
      device_(std::make_unique<Eigen::ThreadPoolDevice>(&impl_->pool, std::max(1, num_threads))) {}

ThreadPool::~ThreadPool() = default;

int ThreadPool::num_threads() const { return device_->numThreads(); }

}  // namespace recship
