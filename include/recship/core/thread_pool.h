// The thread pool that kernels split their work over.
//
// One pool serves every session of a process; its size bounds the threads
// one request uses. It wraps Eigen's pool and exposes Eigen's device, which
// the kernels' tensor expressions run on.
#ifndef RECSHIP_CORE_THREAD_POOL_H_
#define RECSHIP_CORE_THREAD_POOL_H_

#include <memory>

namespace Eigen {
struct ThreadPoolDevice;
}  // namespace Eigen

namespace recship {

class ThreadPool {
 public:
  // num_threads < 1 means one.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  const Eigen::ThreadPoolDevice& device() const { return *device_; }
  int num_threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Eigen::ThreadPoolDevice> device_;
};

}  // namespace recship

#endif  // RECSHIP_CORE_THREAD_POOL_H_
