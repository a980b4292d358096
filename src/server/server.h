// Wires the layers into a running memshield: opens listeners, builds the store, starts the
// worker threads and the clock, answers signals, and shuts everything down cleanly.
#pragma once

#include <memory>

#include "server/settings.h"

namespace memshield::server {

// Runs until SIGTERM/SIGINT (or the `shutdown` command); returns the process exit status.
// argv is kept to re-read the configuration on SIGHUP.
int run_server(const Settings& settings, int argc, char** argv);

}  // namespace memshield::server
