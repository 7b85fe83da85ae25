// The S3 destination's requests and what must happen before each: a part
// of a multipart upload needs its payload SHA-256 (from the verified
// buffers) before it can be sent. Two stages, each on its own
// threads:
//
//   digest threads (one per core): compute a part's digests;
//   send threads (--s3 requests in flight, 16): send it and wait for the
//     store's answer.
//
// A send thread is taken only by a request ready to go, so the store has
// as many requests coming as there are send threads. With both steps on
// one thread, a part held its request slot while it was hashed: on a busy
// 2-core machine (RGW on the same cores) a part's digests took 0.7 s of
// its 3.2 s in the slot, and ingest had 11.5 parts in flight of 16
// (traced per part, docs/benchmarks.md "Ingest into S3").
//
// Memory: the parts waiting in either stage hold their read buffers; the
// pipeline's buffer pool bounds them (S3Writer::buffers counts the digest
// threads' parts as well as the senders').
#include "dest/s3_send_queue.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace valise {

// A fixed set of threads running tasks in order of submission.
class Workers {
 public:
  explicit Workers(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
  }
  // Runs the tasks queued, then stops.
  ~Workers() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void Submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> l(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [this] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

S3SendQueue::S3SendQueue(unsigned digest_threads, unsigned send_threads)
    : send_(std::make_unique<Workers>(send_threads)),
      digest_(std::make_unique<Workers>(digest_threads)) {}

S3SendQueue::~S3SendQueue() {
  digest_.reset();  // its last tasks submit to send_
  send_.reset();
}

void S3SendQueue::Submit(std::function<std::function<void()>()> digest) {
  digest_->Submit(
      [this, digest = std::move(digest)] { send_->Submit(digest()); });
}

void S3SendQueue::RunAll(std::vector<std::function<void()>> requests) {
  std::mutex mu;
  std::condition_variable cv;
  size_t left = requests.size();
  for (auto& r : requests) {
    send_->Submit([&, r = std::move(r)] {
      r();
      std::lock_guard<std::mutex> l(mu);
      if (--left == 0) cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return left == 0; });
}

}  // namespace valise
