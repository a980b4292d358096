// See out_buffer.h.
#include "common/out_buffer.h"

#include <algorithm>
#include <string>

namespace memshield {

void OutBuffer::add_block(size_t min_size) {
  if (head_ > 0 && head_ == blocks_.size()) {
    // Everything was sent: start over without shifting.
    blocks_.clear();
    head_ = 0;
  }
  Block b;
  if (min_size <= kBlockSize && spare_.data) {
    b = std::move(spare_);
    b.start = b.end = 0;
  } else {
    b.cap = std::max(min_size, kBlockSize);
    b.data.reset(new char[b.cap]);
  }
  blocks_.push_back(std::move(b));
}

void OutBuffer::append_slow(const char* p, size_t n) {
  // Fill what is left of the tail, then put the rest in one block (large values: one copy).
  size_t room = tail_room();
  if (room > 0 && n > kBlockSize) room = 0;  // keep big values in their own block
  if (room > 0) {
    Block& b = blocks_.back();
    memcpy(b.data.get() + b.end, p, room);
    b.end += room;
    size_ += room;
    p += room;
    n -= room;
  }
  add_block(n);
  Block& b = blocks_.back();
  memcpy(b.data.get(), p, n);
  b.end = n;
  size_ += n;
}

int OutBuffer::fill_iov(struct iovec* iov, int max) const {
  int i = 0;
  for (size_t k = head_; k < blocks_.size() && i < max; ++k) {
    const Block& b = blocks_[k];
    if (b.end == b.start) continue;
    iov[i].iov_base = b.data.get() + b.start;
    iov[i].iov_len = b.end - b.start;
    ++i;
  }
  return i;
}

void OutBuffer::consume(size_t n) {
  if (n == size_ && blocks_.size() == 1 && blocks_[0].cap == kBlockSize) {
    // Everything sent from the one standard block (the usual reply): keep it, empty.
    blocks_[0].start = blocks_[0].end = 0;
    head_ = 0;
    size_ = 0;
    return;
  }
  size_ -= n;
  while (n > 0 && head_ < blocks_.size()) {
    Block& b = blocks_[head_];
    size_t avail = b.end - b.start;
    size_t take = std::min(avail, n);
    b.start += take;
    n -= take;
    if (b.start == b.end && head_ + 1 < blocks_.size()) {
      if (b.cap == kBlockSize && !spare_.data) spare_ = std::move(b);
      ++head_;
    }
  }
  if (size_ == 0) {
    // Keep the last block for reuse; drop the sent ones.
    if (!blocks_.empty()) {
      Block last = std::move(blocks_.back());
      blocks_.clear();
      head_ = 0;
      if (last.cap == kBlockSize) {
        last.start = last.end = 0;
        blocks_.push_back(std::move(last));
      }
    }
  } else if (head_ > 16 && head_ * 2 > blocks_.size()) {
    blocks_.erase(blocks_.begin(), blocks_.begin() + head_);
    head_ = 0;
  }
}

void OutBuffer::clear() {
  blocks_.clear();
  head_ = 0;
  size_ = 0;
}

std::string OutBuffer::to_string() const {
  std::string s;
  s.reserve(size_);
  for (size_t k = head_; k < blocks_.size(); ++k)
    s.append(blocks_[k].data.get() + blocks_[k].start, blocks_[k].end - blocks_[k].start);
  return s;
}

}  // namespace memshield
