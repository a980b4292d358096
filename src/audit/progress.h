// A one-line progress bar on stderr for long scans, redrawn in place with '\r'. Only used when
// stderr is a terminal, so logs and pipes never see the control characters.
#pragma once

#include <cstddef>
#include <string>

namespace memshield::audit {

class ProgressBar {
 public:
  ProgressBar(size_t total, bool enabled) : total_(total), enabled_(enabled) {}
  // Shows that `done` targets are finished and `current` is being probed.
  void update(size_t done, const std::string& current);
  // Erases the bar so the report starts on a clean line.
  void finish();

 private:
  size_t total_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace memshield::audit
