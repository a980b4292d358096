// memshield: a memcached-compatible cache server. Parses the command line and runs the server.
#include <cstdio>

#include "server/server.h"
#include "server/settings.h"

int main(int argc, char** argv) {
  using namespace memshield::server;
  Settings settings;
  ParseResult parsed = parse_command_line(argc, argv, &settings);
  switch (parsed.outcome) {
    case ParseOutcome::kExit:
      fputs(parsed.output.c_str(), stdout);
      return parsed.exit_code;
    case ParseOutcome::kUsageError:
      fputs(parsed.output.c_str(), stderr);
      return parsed.exit_code;
    case ParseOutcome::kRun:
      break;
  }
  return run_server(settings, argc, argv);
}
