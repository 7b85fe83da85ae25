// Where an S3 destination's requests wait for a thread (see
// s3_send_queue.cc).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <vector>

namespace valise {

class Workers;

// Two stages on threads of their own: a part's digests, then its request.
class S3SendQueue {
 public:
  // `digest_threads` and `send_threads` are at least 1.
  S3SendQueue(unsigned digest_threads, unsigned send_threads);
  // Runs every task submitted (both stages), then stops the threads.
  ~S3SendQueue();
  S3SendQueue(const S3SendQueue&) = delete;
  S3SendQueue& operator=(const S3SendQueue&) = delete;

  // Runs `digest` on a digest thread, then the request it returns on a
  // send thread, in order of submission at each stage.
  void Submit(std::function<std::function<void()>()> digest);
  // Runs every request on the send threads (after those already queued)
  // and returns when all have.
  void RunAll(std::vector<std::function<void()>> requests);

 private:
  std::unique_ptr<Workers> send_;    // before digest_: stops last
  std::unique_ptr<Workers> digest_;  // its tasks feed send_
};

}  // namespace valise
